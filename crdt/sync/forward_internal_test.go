package sync

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// The fast-forward path's reading of change chunks and its bloom filter,
// against automerge-go itself.
func TestForwardChunksAndBloom(t *testing.T) {
	for _, n := range []int{1, 3, 40} {
		t.Run(fmt.Sprint(n, " changes"), func(t *testing.T) {
			doc := automerge.New()
			doc.RootMap().Set("title", "x")
			base, err := doc.Commit("")
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				doc.RootMap().Set("n", int64(i))
				if _, err := doc.Commit(""); err != nil {
					t.Fatal(err)
				}
			}
			chs, err := doc.Changes(base)
			if err != nil || len(chs) != n {
				t.Fatalf("changes: %d, %v", len(chs), err)
			}
			got, err := splitChanges(automerge.SaveChanges(chs))
			if err != nil || len(got) != n {
				t.Fatalf("splitChanges: %d, %v", len(got), err)
			}
			var hashes []wire.Hash
			for i, c := range chs {
				if got[i].Hash != wire.Hash(c.Hash()) {
					t.Fatalf("change %d: hash %x, automerge says %x", i, got[i].Hash[:4], c.Hash().String()[:8])
				}
				if !wire.SameHeads(got[i].Deps, toWireHashes(c.Dependencies())) {
					t.Fatalf("change %d: deps differ", i)
				}
				hashes = append(hashes, got[i].Hash)
			}
			heads, ok := headsAfter([]wire.Hash{wire.Hash(base)}, got)
			if !ok || !SameAsHashes(doc.Heads(), heads) {
				t.Fatalf("headsAfter = %v, %v; want %v", heads, ok, doc.Heads())
			}
			// Automerge's first message on a state whose shared heads are
			// base carries the bloom filter of the changes since.
			ss, err := automerge.LoadSyncState(doc, wire.EncodeSyncState([]wire.Hash{wire.Hash(base)}))
			if err != nil {
				t.Fatal(err)
			}
			msg, ok := ss.GenerateMessage()
			if !ok {
				t.Fatal("no message")
			}
			pm, err := wire.ParseSyncMessage(msg.Bytes())
			if err != nil || len(pm.Have) != 1 {
				t.Fatalf("message: %+v, %v", pm, err)
			}
			if b := bloomOf(hashes); !bytes.Equal(b, pm.Have[0].Bloom) {
				t.Fatalf("bloom = %x\nautomerge: %x", b, pm.Have[0].Bloom)
			}
		})
	}
}

func TestForwardRefusesUncertainChanges(t *testing.T) {
	doc := automerge.New()
	doc.RootMap().Set("a", "1")
	root, _ := doc.Commit("")
	doc.RootMap().Set("a", "2")
	mid, _ := doc.Commit("")
	doc.RootMap().Set("a", "3")
	doc.Commit("")
	all, _ := doc.Changes()
	cs, err := splitChanges(automerge.SaveChanges(all))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		heads []wire.Hash
		chs   []change
	}{
		{"a root change may be one we have", nil, cs[:1]},
		{"a dependency inside the document", []wire.Hash{wire.Hash(mid)}, cs[1:]},
		{"a change equal to a head", []wire.Hash{wire.Hash(mid)}, cs[1:2]},
		{"a duplicate", []wire.Hash{wire.Hash(root)}, []change{cs[1], cs[1]}},
	}
	for _, c := range cases {
		if _, ok := headsAfter(c.heads, c.chs); ok {
			t.Errorf("%s: accepted", c.name)
		}
	}
	bad := append([]byte(nil), cs[2].Raw...)
	bad[len(bad)-1] ^= 1
	if _, err := splitChanges(bad); err == nil {
		t.Error("a change with a wrong checksum parsed")
	}
	if _, err := splitChanges(doc.Save()); err == nil {
		t.Error("a document chunk parsed as changes")
	}
}
