package sync_test

import (
	"context"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/sync/synctest"
	"github.com/outposthq/outpost/crdt/verify"
	"github.com/outposthq/outpost/crdt/wire"
)

// FuzzSyncMessage feeds arbitrary bytes as the data of a sync message from
// a connected peer. Whatever they are, the engine must not crash (the
// Verify hook keeps bytes that would abort Automerge's core away from it),
// must close only that connection if it refuses them, and the stored
// document must stay intact.
func FuzzSyncMessage(f *testing.F) {
	v, err := verify.New(verify.Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })

	// Seeds: real messages a peer sends while syncing, and mutations.
	for _, d := range seedMessages(f) {
		f.Add(d)
	}
	f.Add([]byte{0x42, 0, 0, 1, 0, 3, 1, 0, 7, 0})
	f.Add([]byte{0x43, 1})

	f.Fuzz(func(t *testing.T, data []byte) {
		store := synctest.NewMemStore("aa")
		env := synctest.NewEnv()
		id := env.DocID("d1")
		before, err := store.Edit(id, "clinic:a", "note", func(d *automerge.Doc) error {
			return d.RootMap().Set("title", "intact")
		})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := sync.New(sync.Config{PeerID: "server", Storage: store, Verify: func(peer, id string, base *automerge.Doc, chunks []byte) error {
			key, err := wire.DecodeDocumentID(id)
			if err != nil {
				return err
			}
			return v.Chunks(context.Background(), key, base, chunks)
		}})
		if err != nil {
			t.Fatal(err)
		}
		eng.AddPeer(sync.PeerInfo{ID: "peer", Metadata: &wire.PeerMetadata{StorageID: "p"}, Grants: []string{"clinic:a"}})
		for _, doc := range []string{id, env.DocID("new")} {
			err := eng.Step("peer", &wire.Message{Type: wire.TypeSync, SenderID: "peer", TargetID: "server", DocumentID: doc, Data: data})
			rd := eng.Ready()
			if _, perr := store.Persist(&rd, false); perr != nil {
				t.Fatalf("persisting what the engine accepted: %v", perr)
			}
			eng.Advance()
			if err != nil {
				if len(rd.Closed) != 1 {
					t.Fatalf("Step error %v but closed %v", err, rd.Closed)
				}
				break
			}
		}
		checkIntact(t, store, id, before)
	})
}

// checkIntact fails t unless the stored document still holds every change
// of before and its title is still a string.
func checkIntact(t *testing.T, store *synctest.MemStore, id string, before sync.Meta) {
	t.Helper()
	store.View(id, func(d *automerge.Doc, m sync.Meta) {
		if d == nil {
			t.Fatal("document lost")
		}
		for _, h := range before.Heads {
			if _, err := d.Change(h); err != nil {
				t.Fatalf("document lost change %s", h)
			}
		}
		v, err := d.RootMap().Get("title")
		if err != nil || v.Kind() != automerge.KindStr {
			t.Fatalf("title changed kind: %v %v", v, err)
		}
	})
}

// seedMessages runs a small sync and returns the data of every sync
// message exchanged.
func seedMessages(f *testing.F) [][]byte {
	env := synctest.NewEnv()
	srv, _ := env.AddNode("server", nil, false)
	a, _ := env.AddNode("a", []string{"clinic:a"}, false)
	js, _ := env.AddNode("js", []string{"clinic:a"}, true)
	for i, n := range []*synctest.Node{srv, a, js} {
		_, err := n.Store.Edit(env.DocID("d1"), "clinic:a", "note", func(d *automerge.Doc) error {
			return d.Path("notes").Set(automerge.NewText(string(rune('a' + i))))
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	if err := env.Connect(a, srv, []string{"clinic:a"}); err != nil {
		f.Fatal(err)
	}
	if err := env.Connect(js, srv, []string{"clinic:a"}); err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	codec := wire.NewCodec()
	nodes := []*synctest.Node{srv, a, js}
	for round := 0; round < 50; round++ {
		for _, n := range nodes {
			if _, err := env.Process(n, false); err != nil {
				f.Fatal(err)
			}
		}
		for _, l := range env.Links() {
			for _, fr := range l.Frames {
				if m, err := codec.Decode(fr); err == nil && m.Type == wire.TypeSync {
					out = append(out, m.Data)
				}
			}
		}
		for _, x := range nodes {
			for _, y := range nodes {
				if _, err := env.Deliver(x, y, -1); err != nil {
					f.Fatal(err)
				}
			}
		}
	}
	return out
}

// FuzzForwardMessage is FuzzSyncMessage for the fast-forward path: an
// Outpost peer whose messages claim to extend the heads the store has.
// Seeds are real fast-forward messages; whatever the bytes, the engine must
// not crash, must append only changes that extend the stored document, and
// the document must keep every change it had.
func FuzzForwardMessage(f *testing.F) {
	v, err := verify.New(verify.Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	base := automerge.New()
	base.SetActorID("aa")
	base.RootMap().Set("title", "intact")
	base.Commit("")
	baseBytes := base.Save()
	heads := []wire.Hash{wire.Hash(base.Heads()[0])}
	for _, n := range []int{1, 3} {
		doc, err := automerge.Load(baseBytes)
		if err != nil {
			f.Fatal(err)
		}
		doc.SetActorID("bb")
		for i := 0; i < n; i++ {
			doc.Path("notes").Set(automerge.NewText("more"))
			doc.Commit("")
		}
		chs, _ := doc.Changes(base.Heads()...)
		var chunks [][]byte
		for _, c := range chs {
			chunks = append(chunks, c.Save())
		}
		var hs []wire.Hash
		for _, h := range doc.Heads() {
			hs = append(hs, wire.Hash(h))
		}
		f.Add((&wire.SyncMessage{Version: wire.SyncV1, Heads: hs, Have: []wire.Have{{LastSync: heads}}, Changes: chunks}).Encode())
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		store := synctest.NewMemStore("aa")
		env := synctest.NewEnv()
		id := env.DocID("d1")
		metas, err := store.Persist(&sync.Ready{Changes: []sync.DocChange{{ID: id, Create: true, Collection: "clinic:a", Type: "note", Data: baseBytes, Heads: base.Heads()}}}, false)
		if err != nil {
			t.Fatal(err)
		}
		before := metas[0]
		eng, err := sync.New(sync.Config{PeerID: "server", Storage: store, Verify: func(peer, id string, base *automerge.Doc, chunks []byte) error {
			key, err := wire.DecodeDocumentID(id)
			if err != nil {
				return err
			}
			return v.Chunks(context.Background(), key, base, chunks)
		}})
		if err != nil {
			t.Fatal(err)
		}
		md := &wire.PeerMetadata{StorageID: "p", Outpost: &wire.OutpostMeta{Version: wire.OutpostVersion}}
		eng.AddPeer(sync.PeerInfo{ID: "peer", Metadata: md, Grants: []string{"clinic:a"}})
		for range 2 {
			err := eng.Step("peer", &wire.Message{Type: wire.TypeSync, SenderID: "peer", TargetID: "server", DocumentID: id, Data: data})
			rd := eng.Ready()
			metas, perr := store.Persist(&rd, false)
			if perr != nil {
				t.Fatalf("persisting what the engine accepted: %v", perr)
			}
			eng.Advance()
			for _, m := range metas {
				eng.DocChanged(m)
			}
			if err != nil {
				break
			}
		}
		checkIntact(t, store, id, before)
		store.View(id, func(d *automerge.Doc, m sync.Meta) {
			if !crdt.SameHeads(d.Heads(), m.Heads) {
				t.Fatalf("stored heads %v, document says %v", m.Heads, d.Heads())
			}
		})
	})
}
