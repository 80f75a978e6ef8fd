package synclink

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outposthq/outpost/crdt"
)

// Two nodes on one server: an edit on either reaches the other through the
// server, without polling.
func TestHubSync(t *testing.T) {
	server := newSide(t, "server", nil, true)
	a := newSide(t, "a", []string{"clinic:a"}, false)
	b := newSide(t, "b", []string{"clinic:a"}, false)
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	b.syncer.AddPeer(server.url(), server.token("clinic:a"))

	id := a.create("clinic:a", map[string]string{"title": "from a"})
	start := time.Now()
	b.waitFor("a's document on b", 10*time.Second, func() bool { return b.get(id, "title") == "from a" })
	t.Logf("a -> server -> b: %v", time.Since(start))

	b.set(id, "status", "seen by b")
	a.waitFor("b's edit on a", 10*time.Second, func() bool { return a.get(id, "status") == "seen by b" })

	m, err := b.store.Meta(context.Background(), id)
	if err != nil || m.Collection != "clinic:a" || m.Type != "note" {
		t.Errorf("b's copy: %+v %v (collection and type must travel)", m, err)
	}
	st := a.syncer.Status()
	if len(st) != 1 || st[0].State != "connected" || !st[0].Outpost || st[0].Name != "server" {
		t.Errorf("a's status = %+v", st)
	}
}

func TestRefusedWithoutToken(t *testing.T) {
	server := newSide(t, "server", nil, true)
	for _, url := range []string{server.srv.URL + "/sync", server.srv.URL + "/sync?token=opt_nope"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s = %d, want 401", url, resp.StatusCode)
		}
	}
	a := newSide(t, "a", []string{"clinic:a"}, false)
	a.syncer.AddPeer(server.url(), "opt_wrong")
	a.waitFor("a refused", 5*time.Second, func() bool {
		st := a.syncer.Status()
		return len(st) == 1 && strings.Contains(st[0].LastError, "401")
	})

	// A revoked token stops working for the next connection.
	tok := server.token("clinic:a")
	if _, err := server.tokens.Revoke(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	b := newSide(t, "b", []string{"clinic:a"}, false)
	b.syncer.AddPeer(server.url(), tok)
	b.waitFor("b refused", 5*time.Second, func() bool {
		st := b.syncer.Status()
		return len(st) == 1 && strings.Contains(st[0].LastError, "401")
	})
}

// A node granted clinic:b never receives clinic:a documents, even when it
// names them.
func TestIsolation(t *testing.T) {
	server := newSide(t, "server", nil, true)
	a := newSide(t, "a", []string{"clinic:a"}, false)
	evil := newSide(t, "evil", []string{"clinic:a", "clinic:b"}, false)
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	evil.syncer.AddPeer(server.url(), server.token("clinic:b"))
	secret := a.create("clinic:a", map[string]string{"title": "secret"})
	public := a.create("clinic:b", map[string]string{"title": "b"}) // a does not hold clinic:b: stays local
	server.waitFor("a's doc on the server", 10*time.Second, func() bool { return server.get(secret, "title") == "secret" })
	bdoc := evil.create("clinic:b", map[string]string{"title": "evil's own"})
	server.waitFor("evil's clinic:b doc on the server", 10*time.Second, func() bool { return server.get(bdoc, "title") == "evil's own" })
	// evil's clinic:a document is refused by the server, and asking for
	// a's by id gets doc-unavailable.
	planted := evil.create("clinic:a", map[string]string{"title": "planted"})
	if err := evil.syncer.Request(secret.String()); err != nil {
		t.Fatal(err)
	}
	// Messages are handled in order on both sides: once the server has
	// answered a later message of evil's (a document it offers, marker),
	// it answered the request and the planted offer above too, and evil
	// has received those answers.
	marker := evil.create("clinic:b", map[string]string{"title": "marker"})
	evil.waitFor("the server's answer to evil's marker", 10*time.Second, func() bool {
		_, err := evil.store.SyncState(context.Background(), "storage-server", marker)
		return err == nil
	})
	for _, id := range []crdt.DocID{secret, public} {
		if _, err := evil.store.Meta(context.Background(), id); err == nil {
			t.Errorf("evil received %s", id)
		}
	}
	if _, err := server.store.Meta(context.Background(), planted); err == nil {
		t.Error("the server stored evil's clinic:a document")
	}
	if _, err := server.store.Meta(context.Background(), public); err == nil {
		t.Error("a sent a document of a collection it does not hold")
	}
}

func TestRemovePeer(t *testing.T) {
	server := newSide(t, "server", nil, true)
	a := newSide(t, "a", []string{"clinic:a"}, false)
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	a.waitFor("a connected", 10*time.Second, func() bool {
		st := a.syncer.Status()
		return len(st) == 1 && st[0].State == "connected"
	})
	a.syncer.RemovePeer(server.url())
	// Status lists an outbound connection without a dialer until the loop
	// has heard it is down.
	a.waitFor("a's dialer and connection gone", 10*time.Second, func() bool { return len(a.syncer.Status()) == 0 })
	// The server saw the connection close too, so a new dial works.
	server.waitFor("the server dropped a", 10*time.Second, func() bool { return len(server.syncer.Status()) == 0 })
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	id := a.create("clinic:a", map[string]string{"title": "after re-adding"})
	server.waitFor("a's document on the server", 10*time.Second, func() bool { return server.get(id, "title") == "after re-adding" })
}
