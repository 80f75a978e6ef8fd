package discovery

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/dns/dnsmessage"
)

// ServiceName is the DNS-SD service Outpost nodes advertise.
const ServiceName = "_outpost._tcp.local."

// recordTTL is the time to live of every record we send, in seconds:
// RFC 6762 §10 suggests 120 for records that name hosts and addresses.
const recordTTL = 120

// classCacheFlush is the mDNS cache-flush bit in a resource's class
// (RFC 6762 §10.2), set on records only their owner answers for.
const classCacheFlush = 0x8000

// maxPacket bounds the mDNS packets we send and read (RFC 6762 §17 allows
// up to 9000 bytes; ours are a few hundred).
const maxPacket = 9000

// Advert is what a node advertises about itself.
type Advert struct {
	// ID is the node's stable id (its sync storage id): 1-64 bytes of
	// letters, digits, '-' and '_'. Nodes skip their own id and use the
	// ids to decide who dials.
	ID string
	// Name is shown to people; any UTF-8, cut to 200 bytes.
	Name string
	// Scheme is "ws" or "wss"; Path the sync endpoint, e.g. "/sync".
	Scheme, Path string
	// Port is the node's HTTP port.
	Port uint16
}

// Instance is another node found on the network.
type Instance struct {
	Advert
	// Addrs are the IPv4 addresses the node advertised.
	Addrs []netip.Addr
	// TTL is how long the advert is valid, in seconds; 0 is a goodbye.
	TTL uint32
}

// URL is the address to dial: the first advertised address.
func (in Instance) URL() string {
	if len(in.Addrs) == 0 {
		return ""
	}
	return in.Scheme + "://" + netip.AddrPortFrom(in.Addrs[0], in.Port).String() + in.Path
}

// ShouldDial reports whether the node with id self dials the node with id
// other: the lower id dials, so two nodes that find each other open one
// connection, not two that keep replacing each other.
func ShouldDial(self, other string) bool { return self < other }

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (a Advert) validate() error {
	if !validID(a.ID) {
		return fmt.Errorf("discovery: id %q must be 1-64 letters, digits, '-' or '_'", a.ID)
	}
	if a.Scheme != "ws" && a.Scheme != "wss" {
		return fmt.Errorf("discovery: scheme %q must be ws or wss", a.Scheme)
	}
	if !strings.HasPrefix(a.Path, "/") || len(a.Path) > 200 {
		return fmt.Errorf("discovery: path %q must start with / (at most 200 bytes)", a.Path)
	}
	if a.Port == 0 {
		return errors.New("discovery: port 0")
	}
	return nil
}

// instanceName is the DNS-SD instance name: the node's name made safe for
// one DNS label, followed by the start of its id so that two nodes named
// alike stay distinct.
func (a Advert) instanceName() string {
	short := a.ID
	if len(short) > 16 {
		short = short[len(short)-16:]
	}
	name := strings.Map(func(r rune) rune {
		if r == '.' || r == '\\' || r < 0x20 {
			return '-'
		}
		return r
	}, a.Name)
	name = cutUTF8(name, 63-len(short)-1)
	if name == "" {
		return short + "." + ServiceName
	}
	return name + " " + short + "." + ServiceName
}

func (a Advert) hostName() string {
	short := a.ID
	if len(short) > 16 {
		short = short[len(short)-16:]
	}
	return "outpost-" + short + ".local."
}

func cutUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (a Advert) txt() []string {
	return []string{"txtvers=1", "id=" + a.ID, "name=" + cutUTF8(a.Name, 200), "scheme=" + a.Scheme, "path=" + a.Path}
}

// buildResponse is an mDNS response carrying the whole advert: the PTR as
// answer, SRV, TXT and A records as additional records (RFC 6763 §12), so
// one packet is enough to dial. ttl 0 is a goodbye. id and questions are
// echoed for unicast replies to legacy queriers (RFC 6762 §6.7), else zero.
func buildResponse(a Advert, addrs []netip.Addr, ttl uint32, id uint16, questions []dnsmessage.Question) ([]byte, error) {
	svc, err := dnsmessage.NewName(ServiceName)
	if err != nil {
		return nil, err
	}
	inst, err := dnsmessage.NewName(a.instanceName())
	if err != nil {
		return nil, fmt.Errorf("discovery: instance name: %w", err)
	}
	host, err := dnsmessage.NewName(a.hostName())
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, Response: true, Authoritative: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	for _, q := range questions {
		if err := b.Question(q); err != nil {
			return nil, err
		}
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	hdr := func(n dnsmessage.Name, flush bool) dnsmessage.ResourceHeader {
		c := dnsmessage.ClassINET
		if flush {
			c |= classCacheFlush
		}
		return dnsmessage.ResourceHeader{Name: n, Class: c, TTL: ttl}
	}
	if err := b.PTRResource(hdr(svc, false), dnsmessage.PTRResource{PTR: inst}); err != nil {
		return nil, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, err
	}
	if err := b.SRVResource(hdr(inst, true), dnsmessage.SRVResource{Port: a.Port, Target: host}); err != nil {
		return nil, err
	}
	if err := b.TXTResource(hdr(inst, true), dnsmessage.TXTResource{TXT: a.txt()}); err != nil {
		return nil, err
	}
	for _, ip := range addrs {
		if ip.Is4() {
			if err := b.AResource(hdr(host, true), dnsmessage.AResource{A: ip.As4()}); err != nil {
				return nil, err
			}
		}
	}
	return b.Finish()
}

// buildQuery asks for every instance of the service.
func buildQuery() ([]byte, error) {
	svc, err := dnsmessage.NewName(ServiceName)
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 64), dnsmessage.Header{})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: svc, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// packet is what one received mDNS packet says.
type packet struct {
	id       uint16
	response bool
	// asks is set for a query that asks for the service (or for a name
	// of ours: the caller checks names against its advert).
	questions []dnsmessage.Question
	// instances are the complete Outpost adverts in the packet.
	instances []Instance
}

// parsePacket reads an mDNS packet. Anything malformed is an error; a
// well-formed packet about other services yields no instances.
func parsePacket(b []byte) (packet, error) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return packet{}, err
	}
	out := packet{id: h.ID, response: h.Response}
	qs, err := p.AllQuestions()
	if err != nil {
		return packet{}, err
	}
	out.questions = qs
	if !h.Response {
		return out, nil
	}
	var rrs []dnsmessage.Resource
	for _, all := range []func() ([]dnsmessage.Resource, error){p.AllAnswers, p.AllAuthorities, p.AllAdditionals} {
		r, err := all()
		if err != nil {
			return packet{}, err
		}
		rrs = append(rrs, r...)
	}
	type inst struct {
		ttl  uint32
		srv  *dnsmessage.SRVResource
		txt  []string
		host string
	}
	insts := map[string]*inst{}
	var order []string
	addrs := map[string][]netip.Addr{}
	for _, r := range rrs {
		if r.Header.Class&^classCacheFlush != dnsmessage.ClassINET {
			continue
		}
		name := strings.ToLower(r.Header.Name.String())
		switch body := r.Body.(type) {
		case *dnsmessage.PTRResource:
			if name != ServiceName {
				continue
			}
			key := strings.ToLower(body.PTR.String())
			if _, ok := insts[key]; !ok {
				insts[key] = &inst{ttl: r.Header.TTL}
				order = append(order, key)
			}
		case *dnsmessage.AResource:
			addrs[name] = append(addrs[name], netip.AddrFrom4(body.A))
		}
	}
	for _, r := range rrs {
		if r.Header.Class&^classCacheFlush != dnsmessage.ClassINET {
			continue
		}
		in := insts[strings.ToLower(r.Header.Name.String())]
		if in == nil {
			continue
		}
		switch body := r.Body.(type) {
		case *dnsmessage.SRVResource:
			in.srv = body
			in.host = strings.ToLower(body.Target.String())
		case *dnsmessage.TXTResource:
			in.txt = body.TXT
		}
	}
	for _, key := range order {
		in := insts[key]
		if in.srv == nil || in.txt == nil {
			continue // not complete in this packet; a later one will be
		}
		a := Advert{Port: in.srv.Port}
		for _, kv := range in.txt {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "id":
				a.ID = v
			case "name":
				a.Name = v
			case "scheme":
				a.Scheme = v
			case "path":
				a.Path = v
			}
		}
		if a.validate() != nil || !utf8.ValidString(a.Name) {
			continue // not an Outpost advert we can use
		}
		out.instances = append(out.instances, Instance{Advert: a, Addrs: addrs[in.host], TTL: in.ttl})
	}
	return out, nil
}

// asksFor reports whether a query asks for something we advertise: the
// service's instances, or our instance or host name.
func asksFor(qs []dnsmessage.Question, a Advert) bool {
	inst, host := strings.ToLower(a.instanceName()), strings.ToLower(a.hostName())
	for _, q := range qs {
		if q.Class&^classCacheFlush != dnsmessage.ClassINET && q.Class&^classCacheFlush != dnsmessage.ClassANY {
			continue
		}
		name := strings.ToLower(q.Name.String())
		switch {
		case name == ServiceName && (q.Type == dnsmessage.TypePTR || q.Type == dnsmessage.TypeALL):
			return true
		case name == inst && (q.Type == dnsmessage.TypeSRV || q.Type == dnsmessage.TypeTXT || q.Type == dnsmessage.TypeALL):
			return true
		case name == host && (q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeALL):
			return true
		}
	}
	return false
}
