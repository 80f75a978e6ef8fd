package discovery

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// relay stands in for a multicast group over unicast UDP: every packet it
// receives goes to every other address it has heard from. It lets the
// whole advertise/answer/browse exchange run over real sockets on
// machines without multicast.
func relay(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		members := map[netip.AddrPort]bool{}
		buf := make([]byte, maxPacket)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			members[from] = true
			for m := range members {
				if m != from {
					c.WriteToUDPAddrPort(buf[:n], m)
				}
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// finder collects what a Discoverer reports.
type finder struct {
	mu    sync.Mutex
	found map[string]Instance
	ch    chan struct{}
}

func newFinder() *finder { return &finder{found: map[string]Instance{}, ch: make(chan struct{}, 64)} }

func (f *finder) add(in Instance) {
	f.mu.Lock()
	f.found[in.ID] = in
	f.mu.Unlock()
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

// await waits until cond holds for what was found.
func (f *finder) await(t *testing.T, what string, cond func(map[string]Instance) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		ok := cond(f.found)
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-f.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; found %+v", what, f.found)
		}
	}
}

func start(t *testing.T, cfg Config) (*Discoverer, *finder, context.CancelFunc, chan error) {
	t.Helper()
	f := newFinder()
	cfg.Found = f.add
	d, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, f, cancel, done
}

func TestTwoNodesFindEachOtherOverUDP(t *testing.T) {
	group := relay(t)
	a := Advert{ID: "node-a", Name: "A", Scheme: "ws", Path: "/sync", Port: 7001}
	b := Advert{ID: "node-b", Name: "B", Scheme: "wss", Path: "/sync", Port: 7002}
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	_, fa, _, _ := start(t, Config{Advert: a, Addrs: lo, Group: group})
	_, fb, cancelB, doneB := start(t, Config{Advert: b, Addrs: lo, Group: group})

	fa.await(t, "A to find B", func(m map[string]Instance) bool {
		return m["node-b"].URL() == "wss://127.0.0.1:7002/sync" && m["node-b"].Name == "B"
	})
	fb.await(t, "B to find A", func(m map[string]Instance) bool { return m["node-a"].URL() == "ws://127.0.0.1:7001/sync" })
	for id := range fa.found {
		if id == "node-a" {
			t.Fatal("A reported itself")
		}
	}
	// B leaves: A hears its goodbye.
	cancelB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	doneB <- nil // for the cleanup
	fa.await(t, "B's goodbye", func(m map[string]Instance) bool { return m["node-b"].TTL == 0 })
}

func TestAnswersOneShotQuery(t *testing.T) {
	group := relay(t)
	d, _, _, _ := start(t, Config{Advert: testAdvert, Addrs: []netip.Addr{netip.MustParseAddr("10.1.2.3")}, Group: group})
	// A one-shot querier (like dig -p 5353 @224.0.0.251) asks from its own
	// port and expects a unicast answer echoing its id and question.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := dnsmessage.Question{Name: dnsmessage.MustNewName(ServiceName), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4242})
	b.StartQuestions()
	b.Question(q)
	msg, _ := b.Finish()
	if _, err := c.WriteToUDPAddrPort(msg, d.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, maxPacket)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePacket(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if p.id != 0x4242 || len(p.questions) != 1 || len(p.instances) != 1 || p.instances[0].URL() != "ws://10.1.2.3:7420/sync" {
		t.Fatalf("answer = %+v", p)
	}
	// Junk does not stop it answering.
	c.WriteToUDPAddrPort([]byte{0xde, 0xad}, d.LocalAddr())
	c.WriteToUDPAddrPort(msg, d.LocalAddr())
	if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
		t.Fatalf("no answer after a malformed packet: %v", err)
	}
}

// TestMulticast runs the exchange over real IPv4 multicast on a random
// port of the mDNS group, when this machine has a multicast interface.
func TestMulticast(t *testing.T) {
	group := netip.AddrPortFrom(DefaultGroup.Addr(), uint16(20000+rand.IntN(20000)))
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	a := Advert{ID: "mc-a", Scheme: "ws", Path: "/sync", Port: 7001}
	probe, err := Listen(Config{Advert: a, Group: group})
	if err != nil {
		t.Skipf("no multicast here: %v", err)
	}
	probe.Close()
	_, fa, _, _ := start(t, Config{Advert: a, Addrs: lo, Group: group})
	_, fb, _, _ := start(t, Config{Advert: Advert{ID: "mc-b", Scheme: "ws", Path: "/sync", Port: 7002}, Addrs: lo, Group: group})
	fa.await(t, "A to find B", func(m map[string]Instance) bool { return m["mc-b"].URL() == "ws://127.0.0.1:7002/sync" })
	fb.await(t, "B to find A", func(m map[string]Instance) bool { return m["mc-a"].URL() == "ws://127.0.0.1:7001/sync" })
}
