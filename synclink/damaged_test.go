package synclink

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/outposthq/outpost/crdt"
)

// TestDamagedStoredDocument checks that a document whose stored bytes no
// longer load is refused on the connection, while the rest keeps syncing:
// closing the connection instead would meet the same document first after
// every reconnect, and nothing would ever sync again.
func TestDamagedStoredDocument(t *testing.T) {
	ctx := context.Background()
	server := newSide(t, "server", nil, true)
	a := newSide(t, "a", []string{"clinic:a"}, false)
	bad := a.create("clinic:a", map[string]string{"title": "damaged"})
	good := a.create("clinic:a", map[string]string{"title": "fine"})

	// Replace bad's change log on disk with bytes Automerge cannot load
	// ('l' is the store's log key prefix, then the document id).
	db := a.store.DB()
	lower := append([]byte{'l'}, bad[:]...)
	upper := append(append([]byte(nil), lower...), 0xff)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if err := db.Set(append([]byte(nil), it.Key()...), []byte("not automerge"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
		n++
	}
	it.Close()
	if n == 0 {
		t.Fatal("found no log entries to damage")
	}
	a.store.Forget(bad)
	if _, _, err := a.store.Load(ctx, bad); !errors.Is(err, crdt.ErrCorrupt) {
		t.Fatalf("damaged document loads: %v", err)
	}

	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	server.waitFor("the sound document", 10*time.Second, func() bool { return server.get(good, "title") == "fine" })
	later := a.create("clinic:a", map[string]string{"title": "later"})
	server.waitFor("a document made afterwards", 10*time.Second, func() bool { return server.get(later, "title") == "later" })
	if st := a.syncer.Status(); len(st) != 1 || st[0].State != "connected" {
		t.Errorf("a's status = %+v, want the connection kept", st)
	}
	if _, err := server.store.Meta(ctx, bad); !errors.Is(err, crdt.ErrNotFound) {
		t.Errorf("the damaged document reached the server: %v", err)
	}
}
