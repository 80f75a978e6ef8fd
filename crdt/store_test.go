package crdt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func openTestStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func createJSON(t *testing.T, s *Store, typ, coll, js string) Meta {
	t.Helper()
	obj, err := DecodeJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Create(context.Background(), typ, coll, func(d *automerge.Doc) error { return SetContent(d, obj) })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func contentOf(t *testing.T, s *Store, id DocID) map[string]any {
	t.Helper()
	var c map[string]any
	err := s.View(context.Background(), id, func(d *automerge.Doc, _ Meta) error {
		var err error
		c, err = Content(d)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func patchJSON(t *testing.T, s *Store, id DocID, js string) Meta {
	t.Helper()
	p, err := DecodeJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Update(context.Background(), id, "patch", func(d *automerge.Doc) error { return ApplyMergePatch(d, p) })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCreateGetUpdateReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := createJSON(t, s, "note", "clinic:a", `{"body": "Patient reports a cough.", "n": 3, "f": 1.5, "ok": true, "tags": ["a", {"x": null}]}`)
	if len(m.Heads) != 1 || m.Type != "note" || m.Collection != "clinic:a" || m.Seq != 1 {
		t.Fatalf("meta after create = %+v", m)
	}
	m2 := patchJSON(t, s, m.ID, `{"body": "Patient reports a dry cough.", "n": null, "extra": {"a": 1, "b": null}}`)
	if m2.Seq != 2 || !m2.Updated.After(m.Updated) && !m2.Updated.Equal(m.Updated) {
		t.Fatalf("meta after update = %+v", m2)
	}
	want := map[string]any{"body": "Patient reports a dry cough.", "f": 1.5, "ok": true,
		"tags": []any{"a", map[string]any{"x": nil}}, "extra": map[string]any{"a": int64(1)}}
	if got := contentOf(t, s, m.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("content = %#v\nwant %#v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := contentOf(t, s, m.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("content after reopen = %#v", got)
	}
	got, err := s.Meta(ctx, m.ID)
	if err != nil || !reflect.DeepEqual(got.Heads, m2.Heads) || got.Seq != 2 || got.Changes != 2 {
		t.Fatalf("meta after reopen = %+v, %v; want heads %v", got, err, m2.Heads)
	}
	if next := createJSON(t, s, "note", "clinic:a", `{}`); next.Seq != 3 {
		t.Fatalf("collection seq after reopen = %d, want 3", next.Seq)
	}
	if _, err := s.Meta(ctx, NewDocID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Meta(unknown) err = %v", err)
	}
	if _, err := s.Update(ctx, NewDocID(), "", func(*automerge.Doc) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update(unknown) err = %v", err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, dir := openTestStore(t, Options{})
	done := make(chan error, 1)
	go func() {
		_, err := Open(dir, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("second Open err = %v, want ErrLocked", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Open hangs")
	}
}

func TestInvalidNames(t *testing.T) {
	s, _ := openTestStore(t, Options{})
	for _, tc := range [][2]string{{"", "c"}, {"t", ""}, {"t", "a\x00b"}, {"\xff", "c"}} {
		_, err := s.Create(context.Background(), tc[0], tc[1], nil)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q, %q) err = %v, want ErrInvalid", tc[0], tc[1], err)
		}
	}
}

func TestFailedUpdateChangesNothing(t *testing.T) {
	s, _ := openTestStore(t, Options{})
	m := createJSON(t, s, "note", "c", `{"a": "x"}`)
	boom := errors.New("boom")
	_, err := s.Update(context.Background(), m.ID, "", func(d *automerge.Doc) error {
		d.RootMap().Set("a", "changed")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := contentOf(t, s, m.ID); got["a"] != "x" {
		t.Fatalf("content after failed update = %v", got)
	}
	got, _ := s.Meta(context.Background(), m.ID)
	if !reflect.DeepEqual(got.Heads, m.Heads) || got.Seq != m.Seq {
		t.Fatalf("meta changed: %+v", got)
	}
}

func TestConcurrentWriters(t *testing.T) {
	s, dir := openTestStore(t, Options{CompactChanges: 50, CacheDocs: 4})
	ctx := context.Background()
	const docs, writers, perWriter = 8, 8, 40
	ids := make([]DocID, docs)
	for i := range ids {
		ids[i] = createJSON(t, s, "counter", fmt.Sprintf("c%d", i%2), `{}`).ID
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id := ids[(w+i)%docs]
				key := fmt.Sprintf("w%d_%d", w, i)
				if _, err := s.Update(ctx, id, "", func(d *automerge.Doc) error { return d.RootMap().Set(key, int64(i)) }); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := func(s *Store) {
		total := 0
		for _, id := range ids {
			total += len(contentOf(t, s, id))
		}
		if total != writers*perWriter {
			t.Fatalf("keys = %d, want %d", total, writers*perWriter)
		}
		// Each collection's sequence lists every doc exactly once.
		for _, c := range []string{"c0", "c1"} {
			ms, err := s.ChangedSince(ctx, c, 0, 0)
			if err != nil || len(ms) != docs/2 {
				t.Fatalf("ChangedSince(%s) = %d docs, %v", c, len(ms), err)
			}
			for i := 1; i < len(ms); i++ {
				if ms[i].Seq <= ms[i-1].Seq {
					t.Fatalf("seqs not ascending: %d then %d", ms[i-1].Seq, ms[i].Seq)
				}
			}
			if last := ms[len(ms)-1].Seq; last != s.CollectionSeq(c) {
				t.Fatalf("last seq %d != CollectionSeq %d", last, s.CollectionSeq(c))
			}
		}
	}
	check(s)
	s.Close()
	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2)
}

func TestCompactionKeepsContentAndHistory(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestStore(t, Options{CompactChanges: 10})
	m := createJSON(t, s, "note", "c", `{"body": ""}`)
	for i := 0; i < 35; i++ {
		patchJSON(t, s, m.ID, fmt.Sprintf(`{"body": "%s", "i": %d}`, bytes.Repeat([]byte("x"), i+1), i))
	}
	before, err := s.History(ctx, m.ID)
	if err != nil || len(before) != 36 {
		t.Fatalf("history = %d changes, %v", len(before), err)
	}
	// Logs were folded: at most CompactChanges-1 entries remain.
	raw, closer, err := s.db.Get(metaKey(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	dm, _ := decodeMeta(raw)
	closer.Close()
	if dm.LogNext-dm.LogStart >= 10 || dm.LogStart == 0 {
		t.Fatalf("log not compacted: start %d next %d", dm.LogStart, dm.LogNext)
	}
	if err := s.Compact(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.History(ctx, m.ID)
	if err != nil || !reflect.DeepEqual(before, after) {
		t.Fatalf("history changed by compaction: %v", err)
	}
	c := contentOf(t, s, m.ID)
	if c["i"] != int64(34) || len(c["body"].(string)) != 35 {
		t.Fatalf("content after compaction = %v", c)
	}
}

func TestApplyChangesValidates(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	m := createJSON(t, s, "note", "c", `{"body": "hello"}`)
	// A second replica edits the document; its changes are the foreign bytes.
	other, _, err := s.Load(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.RootMap().Set("from", automerge.NewText("peer"))
	other.Commit("peer edit")
	other.RootMap().Set("more", int64(2))
	other.Commit("peer edit 2")
	changes, _ := other.Changes(m.Heads...)
	good := automerge.SaveChanges(changes)

	bad := map[string][]byte{
		"empty":     {},
		"truncated": good[:len(good)-5],
		"one byte":  good[:1],
		"garbage":   []byte("definitely not automerge"),
		"flipped":   flip(good, len(good)/2),
		"trailing":  append(append([]byte(nil), good...), 0x85, 0x6f),
	}
	for name, raw := range bad {
		if _, err := s.ApplyChanges(ctx, m.ID, raw); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
		got, _ := s.Meta(ctx, m.ID)
		if !reflect.DeepEqual(got.Heads, m.Heads) || got.Seq != m.Seq {
			t.Fatalf("%s: document changed: %+v", name, got)
		}
	}
	m2, err := s.ApplyChanges(ctx, m.ID, good)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m2.Heads, other.Heads()) {
		t.Fatalf("heads after apply = %v, want %v", m2.Heads, other.Heads())
	}
	if c := contentOf(t, s, m.ID); c["from"] != "peer" || c["more"] != int64(2) {
		t.Fatalf("content = %v", c)
	}
	// Applying the same bytes again is a no-op.
	m3, err := s.ApplyChanges(ctx, m.ID, good)
	if err != nil || m3.Seq != m2.Seq {
		t.Fatalf("reapply: %+v %v", m3, err)
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0xff
	return out
}

func TestConcurrentTextEditsMerge(t *testing.T) {
	ctx := context.Background()
	a, _ := openTestStore(t, Options{})
	b, _ := openTestStore(t, Options{})
	m := createJSON(t, a, "note", "c", `{"body": "Subjective: cough for 3 days.\nPlan: rest."}`)
	doc, _, _ := a.Load(ctx, m.ID)
	if _, err := b.CreateWithID(ctx, m.ID, "note", "c", func(d *automerge.Doc) error {
		return d.LoadIncremental(doc.Save())
	}); err != nil {
		t.Fatal(err)
	}
	patchJSON(t, a, m.ID, `{"body": "Subjective: dry cough for 3 days.\nPlan: rest."}`)
	patchJSON(t, b, m.ID, `{"body": "Subjective: cough for 3 days.\nPlan: rest and fluids."}`)
	exchange := func(from, to *Store) {
		d, _, _ := from.Load(ctx, m.ID)
		if _, err := to.ApplyChanges(ctx, m.ID, d.Save()); err != nil {
			t.Fatal(err)
		}
	}
	exchange(a, b)
	exchange(b, a)
	want := "Subjective: dry cough for 3 days.\nPlan: rest and fluids."
	for _, s := range []*Store{a, b} {
		if got := contentOf(t, s, m.ID)["body"]; got != want {
			t.Fatalf("merged body = %q, want %q", got, want)
		}
	}
	ma, _ := a.Meta(ctx, m.ID)
	mb, _ := b.Meta(ctx, m.ID)
	if !reflect.DeepEqual(ma.Heads, mb.Heads) {
		t.Fatalf("heads differ: %v vs %v", ma.Heads, mb.Heads)
	}
}

func TestListAndIndexes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	s, _ := openTestStore(t, Options{Now: clock})
	var ids []DocID
	for i := 0; i < 7; i++ {
		typ, coll := "note", "clinic:a"
		if i%2 == 1 {
			typ = "transcript"
		}
		if i%3 == 2 {
			coll = "clinic:ab"
		}
		ids = append(ids, createJSON(t, s, typ, coll, fmt.Sprintf(`{"i": %d}`, i)).ID)
	}
	patchJSON(t, s, ids[0], `{"touched": true}`) // ids[0] becomes the newest
	list := func(q Query) []DocID {
		var out []DocID
		for {
			ms, next, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				out = append(out, m.ID)
			}
			if next == "" {
				return out
			}
			q.Cursor = next
		}
	}
	tests := []struct {
		q    Query
		want []int
	}{
		{Query{}, []int{0, 6, 5, 4, 3, 2, 1}},
		{Query{Limit: 2}, []int{0, 6, 5, 4, 3, 2, 1}},
		{Query{Type: "note", Limit: 1}, []int{0, 6, 4, 2}},
		{Query{Collection: "clinic:a"}, []int{0, 6, 4, 3, 1}},
		{Query{Collection: "clinic:ab", Limit: 1}, []int{5, 2}},
		{Query{Collection: "clinic:a", Type: "transcript", Limit: 1}, []int{3, 1}},
		{Query{Collection: "clinic:zz"}, nil},
	}
	for _, tt := range tests {
		var want []DocID
		for _, i := range tt.want {
			want = append(want, ids[i])
		}
		if got := list(tt.q); !reflect.DeepEqual(got, want) {
			t.Errorf("List(%+v) = %v, want %v", tt.q, got, want)
		}
	}
	if _, _, err := s.List(ctx, Query{Cursor: "!!"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor err = %v", err)
	}
	// ChangedSince with a cursor returns only what changed after it.
	cur := s.CollectionSeq("clinic:a")
	patchJSON(t, s, ids[3], `{"x": 1}`)
	ms, err := s.ChangedSince(ctx, "clinic:a", cur, 0)
	if err != nil || len(ms) != 1 || ms[0].ID != ids[3] {
		t.Fatalf("ChangedSince after cursor = %v, %v", ms, err)
	}
}

func TestSyncStateAndBlobs(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	id := NewDocID()
	if _, err := s.SyncState(ctx, "peer-1", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sync state err = %v", err)
	}
	if err := s.PutSyncState(ctx, "peer-1", id, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SyncState(ctx, "peer-1", id); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("sync state = %v %v", got, err)
	}
	if err := s.DeleteSyncStates(ctx, "peer-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncState(ctx, "peer-1", id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete err = %v", err)
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 200000) // 3.2 MB, 4 chunks
	sum, n, err := s.PutBlob(ctx, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatal(n, err)
	}
	sum2, _, err := s.PutBlob(ctx, bytes.NewReader(data))
	if err != nil || sum2 != sum {
		t.Fatal("dedup", sum2, err)
	}
	r, size, err := s.OpenBlob(ctx, sum)
	if err != nil || size != int64(len(data)) {
		t.Fatal(size, err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob read back: %d bytes, %v", len(got), err)
	}
	if _, _, err := s.OpenBlob(ctx, "00"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad address err = %v", err)
	}
}

func TestInMemoryFS(t *testing.T) {
	s, err := Open("/db", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := createJSON(t, s, "note", "c", `{"a": 1}`)
	if c := contentOf(t, s, m.ID); c["a"] != int64(1) {
		t.Fatal(c)
	}
}

func TestHistoryRecordsMessagesAndTimes(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s, _ := openTestStore(t, Options{Now: func() time.Time { return at }})
	m := createJSON(t, s, "note", "c", `{"a": 1}`)
	if _, err := s.Update(ctx, m.ID, "second", func(d *automerge.Doc) error { return d.RootMap().Set("b", int64(2)) }); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Message != "create" || h[1].Message != "second" || !h[0].Time.Equal(at) || h[1].Seq != 2 || len(h[1].Deps) != 1 || h[1].Deps[0] != h[0].Hash {
		t.Fatalf("history = %+v", h)
	}
}
