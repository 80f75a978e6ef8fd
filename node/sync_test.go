package node

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/syncserver"
)

func startServer(t *testing.T) *syncserver.Server {
	t.Helper()
	s, err := syncserver.Open(syncserver.Config{Data: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

// awaitContent waits, without polling, until the node's document has the
// wanted field value, and returns how long that took.
func awaitContent(t *testing.T, n *Node, id crdt.DocID, key string, want any) time.Duration {
	t.Helper()
	start := time.Now()
	changed := make(chan struct{}, 1)
	unsub := n.Store().Subscribe(func(m crdt.Meta) {
		if m.ID == id {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	deadline := time.After(20 * time.Second)
	for {
		var c map[string]any
		if _, err := n.Store().Meta(context.Background(), id); err == nil {
			c = contentOf(t, n, id)
		}
		if c != nil && reflect.DeepEqual(c[key], want) {
			return time.Since(start)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("node %s: %s.%s = %v, want %v", n.cfg.Name, id, key, c[key], want)
		}
	}
}

func contentOf(t *testing.T, n *Node, id crdt.DocID) map[string]any {
	r := do(t, "GET", n.URL()+"/api/v1/docs/"+id.String(), "", "")
	c, _ := r.body["content"].(map[string]any)
	return c
}

func TestNodesSyncThroughServerAndDirectly(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	tokA, _, err := srv.Tokens().Create(ctx, "node-a", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	tokB, _, _ := srv.Tokens().Create(ctx, "node-b", []string{"clinic:a"})
	hub := func(tok string) SyncConfig {
		return SyncConfig{Collections: []string{"clinic:a"}, Servers: []Remote{{URL: srv.URL(), Token: tok}}}
	}
	a := startNode(t, Config{Name: "a", Sync: hub(tokA)})
	b := startNode(t, Config{Name: "b", Sync: hub(tokB)})

	r := do(t, "POST", a.URL()+"/api/v1/docs", "application/json", `{"type": "note", "collection": "clinic:a", "content": {"body": "Cough for 3 days."}}`)
	id, _ := crdt.ParseDocID(r.body["id"].(string))
	took := awaitContent(t, b, id, "body", "Cough for 3 days.")
	t.Logf("A → server → B: %v", took)

	// Concurrent edits on both sides to different parts of the text merge.
	do(t, "PATCH", a.URL()+"/api/v1/docs/"+id.String(), mergePatch, `{"body": "Dry cough for 3 days."}`)
	do(t, "PATCH", b.URL()+"/api/v1/docs/"+id.String(), mergePatch, `{"body": "Cough for 3 days. Plan: fluids."}`)
	want := "Dry cough for 3 days. Plan: fluids."
	awaitContent(t, a, id, "body", want)
	awaitContent(t, b, id, "body", want)

	// A third node that never talks to the server reaches A directly.
	peerTok, _, err := a.Tokens().Create(ctx, "node-c", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	c := startNode(t, Config{Name: "c", Sync: SyncConfig{Collections: []string{"clinic:a"}, Peers: []Remote{{URL: a.SyncURL(), Token: peerTok}}}})
	awaitContent(t, c, id, "body", want)

	r = do(t, "GET", a.URL()+"/api/v1/sync", "", "")
	peers, _ := r.body["peers"].([]any)
	if r.status != 200 || len(peers) < 2 {
		t.Fatalf("GET /api/v1/sync = %s", r.raw)
	}
}
