package discovery

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

var testAdvert = Advert{ID: "outpost-0123456789abcdef0123456789abcdef", Name: "Clinic laptop", Scheme: "ws", Path: "/sync", Port: 7420}

func TestResponseRoundTrip(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.168.1.20"), netip.MustParseAddr("10.0.0.5")}
	cases := []struct {
		name string
		a    Advert
	}{
		{"plain", testAdvert},
		{"dots and unicode", Advert{ID: "n_1", Name: "Dr. Ngũgĩ's tablet v2.1", Scheme: "wss", Path: "/sync", Port: 443}},
		{"long name", Advert{ID: strings.Repeat("x", 64), Name: strings.Repeat("é", 200), Scheme: "ws", Path: "/a/b", Port: 1}},
		{"no name", Advert{ID: "abc", Scheme: "ws", Path: "/sync", Port: 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, ttl := range []uint32{recordTTL, 0} {
				b, err := buildResponse(tc.a, addrs, ttl, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				p, err := parsePacket(b)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.a
				want.Name = cutUTF8(want.Name, 200)
				if !p.response || len(p.instances) != 1 {
					t.Fatalf("parsed %+v, want one instance", p)
				}
				got := p.instances[0]
				if got.Advert != want || !reflect.DeepEqual(got.Addrs, addrs) || got.TTL != ttl {
					t.Fatalf("parsed %+v, want %+v at %v ttl %d", got, want, addrs, ttl)
				}
			}
			if l := len(strings.TrimSuffix(tc.a.instanceName(), "."+ServiceName)); l > 63 {
				t.Fatalf("instance label is %d bytes, more than DNS allows", l)
			}
		})
	}
	if u := (Instance{Advert: testAdvert, Addrs: addrs}).URL(); u != "ws://192.168.1.20:7420/sync" {
		t.Fatalf("URL = %q", u)
	}
}

func TestQueryAsksForUs(t *testing.T) {
	q, err := buildQuery()
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePacket(q)
	if err != nil {
		t.Fatal(err)
	}
	if p.response || !asksFor(p.questions, testAdvert) {
		t.Fatalf("our own query %+v does not ask for the service", p)
	}
	name := func(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }
	cases := []struct {
		q    dnsmessage.Question
		want bool
	}{
		{dnsmessage.Question{Name: name("_outpost._tcp.local."), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET | classCacheFlush}, true}, // QU bit
		{dnsmessage.Question{Name: name("_OUTPOST._tcp.local."), Type: dnsmessage.TypeALL, Class: dnsmessage.ClassANY}, true},
		{dnsmessage.Question{Name: name(testAdvert.instanceName()), Type: dnsmessage.TypeSRV, Class: dnsmessage.ClassINET}, true},
		{dnsmessage.Question{Name: name(testAdvert.hostName()), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}, true},
		{dnsmessage.Question{Name: name("_http._tcp.local."), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}, false},
		{dnsmessage.Question{Name: name("_outpost._tcp.local."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}, false},
		{dnsmessage.Question{Name: name("_outpost._tcp.local."), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassCHAOS}, false},
	}
	for _, tc := range cases {
		if got := asksFor([]dnsmessage.Question{tc.q}, testAdvert); got != tc.want {
			t.Errorf("asksFor(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestParseIgnoresForeignAndIncompleteAdverts(t *testing.T) {
	svc := dnsmessage.MustNewName(ServiceName)
	inst := dnsmessage.MustNewName("x._outpost._tcp.local.")
	host := dnsmessage.MustNewName("h.local.")
	build := func(txt []string, withSRV bool) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true})
		b.StartAnswers()
		h := dnsmessage.ResourceHeader{Class: dnsmessage.ClassINET, TTL: 120}
		h.Name = svc
		b.PTRResource(h, dnsmessage.PTRResource{PTR: inst})
		h.Name = inst
		if withSRV {
			b.SRVResource(h, dnsmessage.SRVResource{Port: 80, Target: host})
		}
		b.TXTResource(h, dnsmessage.TXTResource{TXT: txt})
		out, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := []string{"id=abc", "scheme=ws", "path=/sync"}
	cases := []struct {
		name string
		pkt  []byte
		want int
	}{
		{"complete", build(good, true), 1},
		{"no SRV", build(good, false), 0},
		{"no id", build([]string{"scheme=ws", "path=/sync"}, true), 0},
		{"bad id", build([]string{"id=a b", "scheme=ws", "path=/sync"}, true), 0},
		{"bad scheme", build([]string{"id=abc", "scheme=http", "path=/sync"}, true), 0},
		{"bad path", build([]string{"id=abc", "scheme=ws", "path=sync"}, true), 0},
	}
	for _, tc := range cases {
		p, err := parsePacket(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(p.instances) != tc.want {
			t.Errorf("%s: %d instances, want %d", tc.name, len(p.instances), tc.want)
		}
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, build(good, true)[:20]} {
		if _, err := parsePacket(bad); err == nil {
			t.Errorf("parsePacket(%x) accepted a malformed packet", bad)
		}
	}
}

func TestAdvertValidation(t *testing.T) {
	for _, a := range []Advert{
		{ID: "", Scheme: "ws", Path: "/s", Port: 1},
		{ID: "a.b", Scheme: "ws", Path: "/s", Port: 1},
		{ID: "a", Scheme: "http", Path: "/s", Port: 1},
		{ID: "a", Scheme: "ws", Path: "s", Port: 1},
		{ID: "a", Scheme: "ws", Path: "/s", Port: 0},
	} {
		if _, err := Listen(Config{Advert: a}); err == nil {
			t.Errorf("Listen accepted advert %+v", a)
		}
	}
	if !ShouldDial("a", "b") || ShouldDial("b", "a") || ShouldDial("a", "a") {
		t.Fatal("ShouldDial must pick exactly one side")
	}
}

// FuzzParsePacket: whatever arrives on the mDNS port, parsing never
// panics, and every instance it reports is a valid advert.
func FuzzParsePacket(f *testing.F) {
	resp, _ := buildResponse(testAdvert, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, recordTTL, 0, nil)
	bye, _ := buildResponse(testAdvert, nil, 0, 7, nil)
	q, _ := buildQuery()
	f.Add(resp)
	f.Add(bye)
	f.Add(q)
	f.Add([]byte{})
	f.Add(resp[:len(resp)/2])
	// A compression pointer that points at itself.
	f.Add([]byte{0, 0, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePacket(b)
		if err != nil {
			return
		}
		for _, in := range p.instances {
			if in.validate() != nil {
				t.Fatalf("invalid advert reported: %+v", in)
			}
			for _, a := range in.Addrs {
				if !a.Is4() {
					t.Fatalf("non-IPv4 address %v", a)
				}
			}
		}
		asksFor(p.questions, testAdvert)
	})
}
