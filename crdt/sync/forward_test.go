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
// the receiver refuses that document (and logs it) but keeps the
// connection, and keeps its store as it was. The document converges once
// the sender has something new for it on a later connection (refusal.go).
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
	if strings.Contains(strings.Join(log, "\n"), "step error") {
		t.Fatalf("a corrupt change closed the connection:\n%s", strings.Join(log, "\n"))
	}
	more, err := env.Stabilize()
	if err != nil {
		t.Fatal(err)
	}
	log = append(log, more...)
	if !strings.Contains(strings.Join(env.Rejected, "\n"), "a: rejected server doc=d1 collection=clinic:a: content refused: changes for") {
		t.Fatalf("the corrupt change was not refused:\n%s", strings.Join(log, "\n"))
	}
	a.Store.View(id, func(_ *automerge.Doc, m sync.Meta) {
		if !slices.Equal(m.Heads, before) {
			t.Fatalf("store heads moved to %v after a corrupt change", m.Heads)
		}
	})
	if !env.Connected("a", "server") {
		t.Fatalf("the connection closed:\n%s", strings.Join(log, "\n"))
	}
	env.Disconnect(a, server)
	if want, err = server.Store.Edit(id, "clinic:a", "note", set("status", "filed")); err != nil {
		t.Fatal(err)
	}
	server.Eng.DocChanged(want)
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

// A document that keeps receiving vetted changes leaves the fast-forward
// path for a while: vetting there loads the whole document in the worker
// each time, where the general path keeps a loaded copy the worker caches.
func TestForwardHotDocumentTakesGeneralPath(t *testing.T) {
	base := automerge.New()
	base.RootMap().Set("title", "one")
	base.Commit("")
	store := synctest.NewMemStore("aa")
	env := synctest.NewEnv()
	id := env.DocID("d1")
	metas, err := store.Persist(&sync.Ready{Changes: []sync.DocChange{{ID: id, Create: true, Collection: "clinic:a", Type: "note", Data: base.Save(), Heads: base.Heads()}}}, false)
	if err != nil {
		t.Fatal(err)
	}
	var vets []string
	eng, err := sync.New(sync.Config{PeerID: "server", Storage: store, Verify: func(peer, id string, b *automerge.Doc, chunks []byte) error {
		if b == nil {
			vets = append(vets, "whole")
		} else {
			vets = append(vets, "loaded")
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	eng.DocChanged(metas[0])
	md := &wire.PeerMetadata{StorageID: "p", Outpost: &wire.OutpostMeta{Version: wire.OutpostVersion}}
	eng.AddPeer(sync.PeerInfo{ID: "peer", Metadata: md, Grants: []string{"clinic:a"}})
	step := func(ticks int) {
		t.Helper()
		for range ticks {
			eng.Tick()
		}
		var before []automerge.ChangeHash
		store.View(id, func(_ *automerge.Doc, m sync.Meta) { before = m.Heads })
		if err := base.RootMap().Set("n", int64(len(vets))); err != nil {
			t.Fatal(err)
		}
		if _, err := base.Commit(""); err != nil {
			t.Fatal(err)
		}
		chs, err := base.Changes(before...)
		if err != nil {
			t.Fatal(err)
		}
		var chunks [][]byte
		for _, c := range chs {
			chunks = append(chunks, c.Save())
		}
		msg := &wire.SyncMessage{Version: wire.SyncV1, Heads: toWire(base.Heads()), Have: []wire.Have{{LastSync: toWire(before)}}, Changes: chunks}
		if err := eng.Step("peer", &wire.Message{Type: wire.TypeSync, SenderID: "peer", TargetID: "server", DocumentID: id, Data: msg.Encode()}); err != nil {
			t.Fatal(err)
		}
		for eng.HasReady() {
			rd := eng.Ready()
			ms, err := store.Persist(&rd, false)
			if err != nil {
				t.Fatal(err)
			}
			eng.Advance()
			for _, m := range ms {
				eng.DocChanged(m)
			}
		}
		store.View(id, func(_ *automerge.Doc, m sync.Meta) {
			if !slices.Equal(sortedHeads(m.Heads), sortedHeads(base.Heads())) {
				t.Fatalf("store heads %v, want %v", m.Heads, base.Heads())
			}
		})
	}
	step(0)  // fast-forward
	step(1)  // hot: general path, which loads
	step(60) // cooled down, but still loaded by the engine: general
	if want := []string{"whole", "loaded", "loaded"}; !slices.Equal(vets, want) {
		t.Fatalf("vetting requests %v, want %v", vets, want)
	}
	if store.Appends != 1 {
		t.Fatalf("%d appends, want 1", store.Appends)
	}
}

func toWire(hs []automerge.ChangeHash) []wire.Hash {
	out := make([]wire.Hash, len(hs))
	for i, h := range hs {
		out[i] = wire.Hash(h)
	}
	return out
}

func sortedHeads(hs []automerge.ChangeHash) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.String())
	}
	slices.Sort(out)
	return out
}
