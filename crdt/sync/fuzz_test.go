package sync_test

import (
	"context"
	"testing"

	"github.com/automerge/automerge-go"
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
