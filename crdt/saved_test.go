package crdt

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/crdt/verify"
)

// isLoaded reports whether the store holds id loaded in memory.
func isLoaded(s *Store, id DocID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.mu.docs[id]
	return h != nil && h.loaded && h.doc != nil
}

func TestSavedCompactsOnceAndDoesNotLoad(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	m := createJSON(t, s, "note", "clinic:a", `{"body": "first"}`)
	m = patchJSON(t, s, m.ID, `{"body": "second", "n": 2}`)
	want := contentOf(t, s, m.ID)
	s.Forget(m.ID)

	saved, sm, err := s.Saved(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sm.Heads, m.Heads) || sm.Seq != m.Seq || sm.Type != "note" {
		t.Fatalf("Saved meta = %+v, want heads/seq/type of %+v", sm, m)
	}
	if isLoaded(s, m.ID) {
		t.Fatal("Saved left a document loaded that was not loaded before")
	}
	doc, err := automerge.Load(saved)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Content(doc); !reflect.DeepEqual(got, want) {
		t.Fatalf("saved content = %v, want %v", got, want)
	}
	if heads, err := savedHeads(saved); err != nil || !SameHeads(heads, m.Heads) {
		t.Fatalf("savedHeads = %v, %v; want %v", heads, err, m.Heads)
	}
	// The log was folded: the second call reads the snapshot alone.
	raw, closer, err := s.db.Get(metaKey(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	dm, err := decodeMeta(raw)
	closer.Close()
	if err != nil || dm.LogStart != dm.LogNext {
		t.Fatalf("log after Saved: %+v, %v; want empty", dm, err)
	}
	again, _, err := s.Saved(ctx, m.ID)
	if err != nil || string(again) != string(saved) {
		t.Fatalf("second Saved differs (err %v)", err)
	}
	if isLoaded(s, m.ID) {
		t.Fatal("Saved of a compacted document loaded it")
	}
	// A loaded document stays loaded.
	contentOf(t, s, m.ID)
	if _, _, err := s.Saved(ctx, m.ID); err != nil || !isLoaded(s, m.ID) {
		t.Fatalf("Saved of a loaded document: err %v, loaded %v", err, isLoaded(s, m.ID))
	}
	if _, _, err := s.Saved(ctx, NewDocID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Saved of a missing document: %v, want ErrNotFound", err)
	}
}

func TestSavedOfDocumentWithoutChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	m, err := s.CreateWithID(ctx, NewDocID(), "note", "c", nil)
	if err != nil {
		t.Fatal(err)
	}
	saved, sm, err := s.Saved(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sm.Heads) != 0 {
		t.Fatalf("heads %v, want none", sm.Heads)
	}
	if _, err := automerge.Load(saved); err != nil {
		t.Fatalf("saved empty document does not load: %v", err)
	}
}

func TestCreateFromSaved(t *testing.T) {
	ctx := context.Background()
	src, _ := openTestStore(t, Options{})
	m := createJSON(t, src, "note", "clinic:a", `{"body": "Patient reports a cough.", "tags": ["a"]}`)
	m = patchJSON(t, src, m.ID, `{"body": "Patient reports a dry cough."}`)
	saved, _, err := src.Saved(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := contentOf(t, src, m.ID)

	dir := t.TempDir()
	dst, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var notified []Meta
	cancel := dst.Subscribe(func(m Meta) { notified = append(notified, m) })
	got, err := dst.CreateFromSaved(ctx, m.ID, "note", "clinic:a", saved)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !SameHeads(got.Heads, m.Heads) || got.Seq != 1 || got.Collection != "clinic:a" || got.Type != "note" || got.Changes != 1 {
		t.Fatalf("meta = %+v", got)
	}
	if len(notified) != 1 || notified[0].ID != m.ID {
		t.Fatalf("notifications = %+v, want one for %s", notified, m.ID)
	}
	if isLoaded(dst, m.ID) {
		t.Fatal("CreateFromSaved loaded the document")
	}
	if ms, err := dst.ChangedSince(ctx, "clinic:a", 0, 10); err != nil || len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("ChangedSince = %v, %v", ms, err)
	}
	if ms, _, err := dst.List(ctx, Query{Type: "note"}); err != nil || len(ms) != 1 {
		t.Fatalf("List by type = %v, %v", ms, err)
	}
	if _, err := dst.CreateFromSaved(ctx, m.ID, "note", "clinic:a", saved); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if c := contentOf(t, dst, m.ID); !reflect.DeepEqual(c, want) {
		t.Fatalf("content = %v, want %v", c, want)
	}
	// Loaded now: still ErrExists.
	if _, err := dst.CreateFromVetted(ctx, m.ID, "note", "clinic:a", saved); !errors.Is(err, ErrExists) {
		t.Fatalf("create over a loaded document: %v, want ErrExists", err)
	}
	// It is an ordinary document: it takes edits and survives a reopen.
	after := patchJSON(t, dst, m.ID, `{"seen": true}`)
	if after.Seq != 2 {
		t.Fatalf("seq after update = %d, want 2", after.Seq)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	c := contentOf(t, dst, m.ID)
	if c["seen"] != true || c["body"] != want["body"] {
		t.Fatalf("content after reopen = %v", c)
	}
	if hist, err := dst.History(ctx, m.ID); err != nil || len(hist) != 3 {
		t.Fatalf("history = %d changes, %v; want 3", len(hist), err)
	}
}

// lieAboutHeads returns a Save() chunk whose header declares other heads,
// with a checksum that matches the lie.
func lieAboutHeads(t *testing.T, saved []byte) []byte {
	t.Helper()
	_, ln := binary.Uvarint(saved[9:])
	c := append([]byte(nil), saved[9+ln:]...)
	p := 0
	actors, n := binary.Uvarint(c[p:])
	p += n
	for i := uint64(0); i < actors; i++ {
		l, n := binary.Uvarint(c[p:])
		p += n + int(l)
	}
	nh, n := binary.Uvarint(c[p:])
	p += n
	if nh == 0 {
		t.Fatal("document has no heads to lie about")
	}
	c[p] ^= 0xff
	return frameChunk(chunkDocument, c)
}

func TestCreateFromSavedRejectsBadBytes(t *testing.T) {
	ctx := context.Background()
	doc := automerge.New()
	doc.RootMap().Set("body", automerge.NewText("hello"))
	doc.Commit("one")
	saved := doc.Save()
	doc.RootMap().Set("n", int64(1))
	doc.Commit("two")
	changes, _ := doc.Changes()
	flipped := append([]byte(nil), saved...)
	flipped[len(flipped)-3] ^= 0x40

	v, err := verify.New(verify.Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s, _ := openTestStore(t, Options{Verify: v.Chunks})
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated", saved[:len(saved)-5], ErrCorrupt},
		{"checksum", flipped, ErrCorrupt},
		{"change chunks", automerge.SaveChanges(changes), ErrCorrupt},
		{"document and more", append(append([]byte(nil), saved...), saved...), ErrCorrupt},
		{"heads that lie", lieAboutHeads(t, saved), ErrCorrupt},
		{"garbage document", frameChunk(chunkDocument, []byte{1, 2, 3, 4, 5}), ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := NewDocID()
			before := s.CollectionSeq("c")
			_, err := s.CreateFromSaved(ctx, id, "note", "c", tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateFromSaved(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if _, err := s.Meta(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("rejected bytes were stored: %v", err)
			}
			if after := s.CollectionSeq("c"); after != before {
				t.Fatalf("collection seq moved from %d to %d", before, after)
			}
		})
	}
	for _, bad := range []struct{ typ, coll string }{{"", "c"}, {"note", ""}, {"note", "a\x00b"}} {
		if _, err := s.CreateFromSaved(ctx, NewDocID(), bad.typ, bad.coll, saved); !errors.Is(err, ErrInvalid) {
			t.Fatalf("type %q collection %q: %v, want ErrInvalid", bad.typ, bad.coll, err)
		}
	}
	if _, err := s.CreateFromSaved(ctx, DocID{}, "note", "c", saved); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero id: %v, want ErrInvalid", err)
	}
	if ms, _ := s.ChangedSince(ctx, "c", 0, 10); len(ms) != 0 {
		t.Fatalf("store holds %d documents after rejections", len(ms))
	}
}

func TestCreateFromVettedSkipsVerify(t *testing.T) {
	ctx := context.Background()
	calls := 0
	s, _ := openTestStore(t, Options{Verify: func(ctx context.Context, key [16]byte, doc *automerge.Doc, raw []byte) error {
		calls++
		if doc != nil {
			t.Errorf("Verify of a new document got a base document")
		}
		return errors.New("no")
	}})
	doc := automerge.New()
	doc.RootMap().Set("x", int64(1))
	doc.Commit("x")
	saved := doc.Save()
	if _, err := s.CreateFromSaved(ctx, NewDocID(), "note", "c", saved); !errors.Is(err, ErrCorrupt) || calls != 1 {
		t.Fatalf("CreateFromSaved with a refusing Verify: %v after %d calls", err, calls)
	}
	if _, err := s.CreateFromVetted(ctx, NewDocID(), "note", "c", saved); err != nil || calls != 1 {
		t.Fatalf("CreateFromVetted: %v after %d calls, want no call", err, calls)
	}
	// Framing is still checked.
	if _, err := s.CreateFromVetted(ctx, NewDocID(), "note", "c", saved[:len(saved)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("CreateFromVetted of truncated bytes: %v", err)
	}
}

// FuzzCreateFromSaved feeds arbitrary bytes, raw and framed as a document
// chunk, to CreateFromSaved with the worker-process verifier. Rejections
// wrap ErrCorrupt and store nothing; whatever is accepted must load.
func FuzzCreateFromSaved(f *testing.F) {
	doc := automerge.New()
	doc.RootMap().Set("body", automerge.NewText("hello"))
	doc.Commit("one")
	saved := doc.Save()
	_, ln := binary.Uvarint(saved[9:])
	f.Add(false, saved)
	f.Add(true, saved[9+ln:])
	f.Add(true, automerge.New().Save()[9+2:])
	f.Add(false, saved[:len(saved)/2])
	f.Add(true, []byte{0})
	f.Add(true, []byte{1, 200, 1})

	s := vettedMemStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, frame bool, raw []byte) {
		if frame {
			raw = frameChunk(chunkDocument, raw)
		}
		id := NewDocID()
		m, err := s.CreateFromSaved(ctx, id, "fuzz", "fuzz", raw)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if _, err := s.Meta(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("rejected bytes were stored: %v", err)
			}
			return
		}
		// Accepted: it loads, and the declared heads are the real ones.
		err = s.View(ctx, id, func(d *automerge.Doc, _ Meta) error {
			if !SameHeads(d.Heads(), m.Heads) {
				t.Fatalf("loaded heads %v, stored heads %v", d.Heads(), m.Heads)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
