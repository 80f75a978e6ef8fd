package sync_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/sync/synctest"
	"github.com/outposthq/outpost/crdt/wire"
)

// A fast-forward message whose change fails its checksum is not appended:
// the receiver refuses it, drops the connection and keeps its store as it
// was; the next connection converges.
func TestForwardRejectsCorruptChange(t *testing.T) {
	env := synctest.NewEnv()
	server, err := env.AddNode("server", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := env.AddNode("a", []string{"clinic:a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	id := env.DocID("d1")
	set := func(k, v string) func(*automerge.Doc) error {
		return func(d *automerge.Doc) error { return d.RootMap().Set(k, v) }
	}
	m, err := server.Store.Edit(id, "clinic:a", "note", set("title", "one"))
	if err != nil {
		t.Fatal(err)
	}
	server.Eng.DocChanged(m)
	connect := func() {
		t.Helper()
		if err := env.Connect(a, server, []string{"clinic:a"}); err != nil {
			t.Fatal(err)
		}
	}
	connect()
	if _, err := env.Stabilize(); err != nil {
		t.Fatal(err)
	}
	env.Disconnect(a, server)
	want, err := server.Store.Edit(id, "clinic:a", "note", set("status", "seen"))
	if err != nil {
		t.Fatal(err)
	}
	server.Eng.DocChanged(want)
	var before []automerge.ChangeHash
	a.Store.View(id, func(_ *automerge.Doc, m sync.Meta) { before = m.Heads })

	connect()
	// Let the server hear a's cursor and answer, holding its answer on
	// the link.
	for range 3 {
		for _, n := range []*synctest.Node{a, server} {
			for n.Eng.HasReady() {
				if _, err := env.Process(n, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := env.Deliver(a, server, -1); err != nil {
			t.Fatal(err)
		}
	}
	codec := wire.NewCodec()
	corrupted := 0
	for _, l := range env.Links() {
		for i, f := range l.Frames {
			m, err := codec.Decode(f)
			if err != nil || m.Type != wire.TypeSync || m.DocumentID != id {
				continue
			}
			pm, err := wire.ParseSyncMessage(m.Data)
			if err != nil || len(pm.Changes) != 1 {
				t.Fatalf("want the fast-forward message with one change, got %+v", pm)
			}
			c := slices.Clone(pm.Changes[0])
			c[len(c)-1] ^= 0xff
			pm.Changes[0] = c
			m.Data = pm.Encode()
			if l.Frames[i], err = codec.Encode(m); err != nil {
				t.Fatal(err)
			}
			corrupted++
		}
	}
	if corrupted != 1 {
		t.Fatalf("corrupted %d messages, want 1", corrupted)
	}
	log, err := env.Deliver(server, a, -1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(log, "\n"), "a: step error") {
		t.Fatalf("the corrupt change was not refused:\n%s", strings.Join(log, "\n"))
	}
	for a.Eng.HasReady() {
		if _, err := env.Process(a, false); err != nil {
			t.Fatal(err)
		}
	}
	a.Store.View(id, func(_ *automerge.Doc, m sync.Meta) {
		if !slices.Equal(m.Heads, before) {
			t.Fatalf("store heads moved to %v after a corrupt change", m.Heads)
		}
	})
	if env.Connected("a", "server") {
		t.Fatal("the connection stayed open")
	}
	connect()
	if _, err := env.Stabilize(); err != nil {
		t.Fatal(err)
	}
	a.Store.View(id, func(_ *automerge.Doc, m sync.Meta) {
		if !slices.Equal(m.Heads, want.Heads) {
			t.Fatalf("heads %v after reconnecting, want %v", m.Heads, want.Heads)
		}
	})
}
