package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/ipv4"
)

// DefaultGroup is mDNS's IPv4 multicast group and port.
var DefaultGroup = netip.AddrPortFrom(netip.AddrFrom4([4]byte{224, 0, 0, 251}), 5353)

// Config configures a Discoverer.
type Config struct {
	// Advert is what this node advertises.
	Advert Advert
	// Addrs are the addresses advertised for the node; nil advertises the
	// IPv4 addresses of the interfaces the Discoverer uses. A node that
	// listens on one address passes that one.
	Addrs []netip.Addr
	// Group is where queries and announcements go. The zero value is
	// DefaultGroup. Tests use another multicast port, or a unicast address
	// (then no group is joined and the socket binds an ephemeral port).
	Group netip.AddrPort
	// Interfaces limits multicast to these interfaces; nil uses every
	// interface that is up and multicast-capable.
	Interfaces []net.Interface
	// Found is called, from Run's goroutine, for every other node heard
	// of whose advert is new or changed (a changed URL, a goodbye). It must
	// not block.
	Found func(Instance)
	// Logger; nil discards.
	Logger *slog.Logger
	// MaxQueryInterval caps the growing interval between queries
	// [1 minute].
	MaxQueryInterval time.Duration
}

// Discoverer advertises this node and browses for others.
type Discoverer struct {
	cfg    Config
	conn   *net.UDPConn
	pc     *ipv4.PacketConn
	ifaces []net.Interface
	group  *net.UDPAddr
	multi  bool
	log    *slog.Logger
	// seen is the last advert reported per id (Run's goroutine only).
	seen map[string]Instance
}

// Listen opens the mDNS socket and joins the group. Run does the rest.
func Listen(cfg Config) (*Discoverer, error) {
	if err := cfg.Advert.validate(); err != nil {
		return nil, err
	}
	if !cfg.Group.IsValid() {
		cfg.Group = DefaultGroup
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxQueryInterval <= 0 {
		cfg.MaxQueryInterval = time.Minute
	}
	if !cfg.Group.Addr().Is4() {
		return nil, fmt.Errorf("discovery: group %s: only IPv4 is supported", cfg.Group)
	}
	d := &Discoverer{cfg: cfg, log: cfg.Logger, seen: map[string]Instance{}, group: net.UDPAddrFromAddrPort(cfg.Group)}
	d.multi = cfg.Group.Addr().IsMulticast()
	if !d.multi {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		d.conn = c
		d.pc = ipv4.NewPacketConn(c)
		return d, nil
	}
	ifaces := cfg.Interfaces
	if ifaces == nil {
		all, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("discovery: interfaces: %w", err)
		}
		for _, ifi := range all {
			if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
				ifaces = append(ifaces, ifi)
			}
		}
	}
	// Other mDNS responders (avahi, Bonjour) may hold the port too: share it.
	lc := net.ListenConfig{Control: reuse}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", cfg.Group.Port()))
	if err != nil {
		return nil, fmt.Errorf("discovery: listen on port %d: %w", cfg.Group.Port(), err)
	}
	d.conn = pc.(*net.UDPConn)
	d.pc = ipv4.NewPacketConn(d.conn)
	for _, ifi := range ifaces {
		if err := d.pc.JoinGroup(&ifi, d.group); err != nil {
			d.log.Debug("discovery: cannot join the group", "interface", ifi.Name, "err", err)
			continue
		}
		d.ifaces = append(d.ifaces, ifi)
	}
	if len(d.ifaces) == 0 {
		d.conn.Close()
		return nil, errors.New("discovery: no multicast-capable interface joined the mDNS group")
	}
	// RFC 6762 §11: mDNS packets are sent with TTL 255; loopback lets
	// nodes on one host find each other.
	_ = d.pc.SetMulticastTTL(255)
	_ = d.pc.SetMulticastLoopback(true)
	return d, nil
}

// Close releases the socket of a Discoverer that will not Run.
func (d *Discoverer) Close() error { return d.conn.Close() }

// LocalAddr is the socket's address (tests in unicast mode).
func (d *Discoverer) LocalAddr() netip.AddrPort { return d.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Run answers queries, announces this node and browses until ctx ends,
// then says goodbye and closes the socket.
func (d *Discoverer) Run(ctx context.Context) error {
	type datagram struct {
		b    []byte
		from netip.AddrPort
	}
	in := make(chan datagram, 64)
	readErr := make(chan error, 1)
	go func() {
		for {
			buf := make([]byte, maxPacket)
			n, from, err := d.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case in <- datagram{buf[:n], from}:
			default: // a flood: drop rather than queue without bound
			}
		}
	}()
	defer d.conn.Close()

	query, err := buildQuery()
	if err != nil {
		return err
	}
	d.announce(recordTTL)
	// Announce twice, a second apart (RFC 6762 §8.3), and query with
	// doubling intervals (§5.2) so that new nodes are found within a
	// minute even if their announcements were lost.
	announceAgain := time.NewTimer(time.Second)
	defer announceAgain.Stop()
	interval := time.Second
	nextQuery := time.NewTimer(0)
	defer nextQuery.Stop()
	for {
		select {
		case <-ctx.Done():
			d.announce(0)
			return nil
		case err := <-readErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("discovery: read: %w", err)
		case <-announceAgain.C:
			d.announce(recordTTL)
		case <-nextQuery.C:
			d.send(query, d.group)
			nextQuery.Reset(interval)
			interval = min(2*interval, d.cfg.MaxQueryInterval)
		case dg := <-in:
			d.handle(dg.b, dg.from)
		}
	}
}

// handle answers a query that asks for us and reports the adverts in a
// response.
func (d *Discoverer) handle(b []byte, from netip.AddrPort) {
	p, err := parsePacket(b)
	if err != nil {
		d.log.Debug("discovery: malformed packet", "from", from, "err", err)
		return
	}
	if !p.response {
		if !asksFor(p.questions, d.cfg.Advert) {
			return
		}
		if from.Port() != d.cfg.Group.Port() {
			// A one-shot querier (dig, a legacy resolver) wants a unicast
			// answer with its id and question (RFC 6762 §6.7).
			if msg, err := buildResponse(d.cfg.Advert, d.addrs(), recordTTL, p.id, p.questions); err == nil {
				d.send(msg, net.UDPAddrFromAddrPort(from))
			}
			return
		}
		d.announce(recordTTL)
		return
	}
	for _, in := range p.instances {
		if in.ID == d.cfg.Advert.ID {
			continue
		}
		// Prefer the address the packet came from when it is one the
		// node advertised: it is on a network we share.
		src := from.Addr().Unmap()
		if i := slices.Index(in.Addrs, src); i > 0 {
			in.Addrs = append([]netip.Addr{src}, slices.Delete(slices.Clone(in.Addrs), i, i+1)...)
		}
		if len(in.Addrs) == 0 {
			in.Addrs = []netip.Addr{src}
		}
		old, ok := d.seen[in.ID]
		if ok && old.URL() == in.URL() && (old.TTL == 0) == (in.TTL == 0) && old.Name == in.Name {
			continue
		}
		d.seen[in.ID] = in
		d.log.Debug("discovery: found", "id", in.ID, "name", in.Name, "url", in.URL(), "ttl", in.TTL)
		if d.cfg.Found != nil {
			d.cfg.Found(in)
		}
	}
}

// addrs are the addresses to advertise.
func (d *Discoverer) addrs() []netip.Addr {
	if d.cfg.Addrs != nil {
		return d.cfg.Addrs
	}
	var out []netip.Addr
	for _, ifi := range d.ifaces {
		as, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
					out = append(out, ip.Unmap())
				}
			}
		}
	}
	if len(out) == 0 && !d.multi {
		out = append(out, netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	}
	return out
}

// announce multicasts the advert; ttl 0 withdraws it.
func (d *Discoverer) announce(ttl uint32) {
	msg, err := buildResponse(d.cfg.Advert, d.addrs(), ttl, 0, nil)
	if err != nil {
		d.log.Warn("discovery: building the announcement", "err", err)
		return
	}
	d.send(msg, d.group)
}

// send writes one packet: to a unicast address directly, to the group
// out of every joined interface.
func (d *Discoverer) send(msg []byte, to *net.UDPAddr) {
	if !d.multi || !to.IP.IsMulticast() {
		if _, err := d.conn.WriteToUDP(msg, to); err != nil {
			d.log.Debug("discovery: send", "to", to, "err", err)
		}
		return
	}
	for _, ifi := range d.ifaces {
		if err := d.pc.SetMulticastInterface(&ifi); err != nil {
			continue
		}
		if _, err := d.conn.WriteToUDP(msg, to); err != nil {
			d.log.Debug("discovery: send", "interface", ifi.Name, "err", err)
		}
	}
}
