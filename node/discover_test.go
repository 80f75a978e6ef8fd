package node

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/discovery"
)

// TestDiscoveredNodesSync: two nodes with --discover on one host find each
// other over real multicast (on a random port of the mDNS group, so a real
// responder on this machine is not disturbed), one dials the other with
// the token made for it, and a document created on either reaches the
// other.
func TestDiscoveredNodesSync(t *testing.T) {
	group := netip.AddrPortFrom(discovery.DefaultGroup.Addr(), uint16(20000+rand.IntN(20000)))
	probe, err := discovery.Listen(discovery.Config{Advert: discovery.Advert{ID: "probe", Scheme: "ws", Path: "/", Port: 1}, Group: group})
	if err != nil {
		t.Skipf("no multicast here: %v", err)
	}
	probe.Close()

	ctx := context.Background()
	mk := func(name string) *Node {
		n, err := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Name: name,
			Sync: SyncConfig{Collections: []string{"clinic:a"}, Discover: &Discover{Group: group}}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b := mk("a"), mk("b")
	// Whichever dials presents a token made on the other.
	tokA, _, err := a.Tokens().Create(ctx, "b", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	tokB, _, err := b.Tokens().Create(ctx, "a", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	a.cfg.Sync.Discover.Token, b.cfg.Sync.Discover.Token = tokB, tokA
	for _, n := range []*Node{a, b} {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- n.Run(rctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node Run: %v", err)
			}
		})
	}

	r := do(t, "POST", a.URL()+"/api/v1/docs", "application/json", `{"type": "note", "collection": "clinic:a", "content": {"body": "found on the LAN"}}`)
	id, _ := crdt.ParseDocID(r.body["id"].(string))
	t.Logf("a → b: %v", awaitContent(t, b, id, "body", "found on the LAN"))
	r = do(t, "POST", b.URL()+"/api/v1/docs", "application/json", `{"type": "note", "collection": "clinic:a", "content": {"body": "and back"}}`)
	id, _ = crdt.ParseDocID(r.body["id"].(string))
	awaitContent(t, a, id, "body", "and back")

	// One connection between them, not two.
	conns := 0
	for _, n := range []*Node{a, b} {
		for _, p := range n.syncer.Status() {
			if p.Outbound {
				conns++
			}
		}
	}
	if conns != 1 {
		t.Fatalf("%d outbound connections between the two nodes, want 1", conns)
	}
}
