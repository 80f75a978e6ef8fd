package syncserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/crdt"
)

// TestInteropJSAcrossServerRestarts: an automerge-repo client keeps editing
// while the sync server goes down and comes back on the same address, as a
// hub does when it is restarted; its adapter reconnects on its own. Every
// edit reaches the Go node on the other side, and the node's edit reaches
// the client.
func TestInteropJSAcrossServerRestarts(t *testing.T) {
	dir := interopDir(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := t.TempDir()
	run := func() (*Server, func()) {
		t.Helper()
		var srv *Server
		var err error
		// The address was free a moment ago; the old server's socket may
		// take a moment to let go of it.
		for try := 0; ; try++ {
			if srv, err = Open(Config{Data: data, Listen: addr}); err == nil || try == 50 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		return srv, func() { cancel(); <-done }
	}
	srv, stop := run()
	jsTok, nodeTok := token(t, srv, "clinic:a"), token(t, srv, "clinic:a")
	node := startNode(t, srv.URL(), nodeTok, "clinic:a")
	js := startJS(t, dir, srv.URL()+"?token="+jsTok)

	docURL, err := js.c.Create(`{"title":"ward round"}`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := crdt.ParseDocID(docURL)
	if err != nil {
		t.Fatal(err)
	}
	waitStore(t, node.store, "the JS document on the node", func() bool { return field(node.store, id, "title") == "ward round" })

	for round := 1; round <= 4; round++ {
		// Edits made while the server is up, then while it is down.
		if got := js.do(fmt.Sprintf("set %s up%d yes", docURL, round), 30*time.Second); got != "ok" {
			t.Fatalf("js set: %s", got)
		}
		stop()
		if got := js.do(fmt.Sprintf("set %s down%d yes", docURL, round), 30*time.Second); got != "ok" {
			t.Fatalf("js set: %s", got)
		}
		srv, stop = run()
	}
	defer func() { stop() }()
	waitStore(t, node.store, "every JS edit on the node", func() bool {
		for round := 1; round <= 4; round++ {
			if field(node.store, id, fmt.Sprintf("up%d", round)) != "yes" || field(node.store, id, fmt.Sprintf("down%d", round)) != "yes" {
				return false
			}
		}
		return true
	})
	if _, err := node.store.Update(context.Background(), id, "", func(d *automerge.Doc) error {
		return d.RootMap().Set("seen", "by the node")
	}); err != nil {
		t.Fatal(err)
	}
	if got := js.do("wait "+docURL+" seen by the node", 60*time.Second); got != "ok" {
		t.Fatalf("js wait: %s", got)
	}
	if got := js.do("find "+docURL, 30*time.Second); !strings.Contains(got, `"down4":"yes"`) {
		t.Fatalf("js doc: %s", got)
	}
}
