package sync_test

import (
	"bytes"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// wire.DocumentHeads and wire.EncodeSyncState against automerge-go itself.
func TestDocumentHeadsAndState(t *testing.T) {
	a := automerge.New()
	a.RootMap().Set("x", "1")
	a.Commit("")
	b, _ := a.Fork()
	a.RootMap().Set("y", "2")
	a.Commit("")
	b.RootMap().Set("z", "3")
	b.Commit("")
	a.Merge(b)
	heads := a.Heads()
	if len(heads) != 2 {
		t.Fatalf("want a document with two heads, got %d", len(heads))
	}
	got, err := wire.DocumentHeads(a.Save())
	if err != nil {
		t.Fatal(err)
	}
	var want []wire.Hash
	for _, h := range heads {
		want = append(want, wire.Hash(h))
	}
	if !wire.SameHeads(got, want) {
		t.Errorf("DocumentHeads = %v, want %v", got, want)
	}
	ss := automerge.NewSyncState(a)
	// A sync state whose shared heads are the doc's heads, as automerge
	// encodes it after a completed sync.
	peer := automerge.NewSyncState(a)
	m, _ := peer.GenerateMessage()
	ss.ReceiveMessage(m.Bytes())
	if enc := wire.EncodeSyncState(want); !bytes.Equal(enc, ss.Save()) {
		t.Errorf("EncodeSyncState = %x, automerge says %x", enc, ss.Save())
	}
	if _, err := wire.DocumentHeads(a.SaveIncremental()); err == nil {
		t.Error("a change chunk parsed as a document")
	}
}
