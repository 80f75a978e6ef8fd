package crdt

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/automerge/automerge-go"
)

// changesOf returns what Automerge says changed since heads, as a set of
// hashes, from a loaded copy.
func changesOf(t *testing.T, s *Store, id DocID, heads []automerge.ChangeHash) map[automerge.ChangeHash]bool {
	t.Helper()
	doc, _, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	chs, err := doc.Changes(heads...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[automerge.ChangeHash]bool{}
	for _, c := range chs {
		out[c.Hash()] = true
	}
	return out
}

func hashesOf(t *testing.T, raw []byte) map[automerge.ChangeHash]bool {
	t.Helper()
	cs, err := splitChunks(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := map[automerge.ChangeHash]bool{}
	for _, c := range cs {
		out[c.hash] = true
	}
	return out
}

func TestChangesSince(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	m0 := createJSON(t, s, "note", "clinic:a", `{"body": "first"}`)
	id := m0.ID
	m1 := patchJSON(t, s, id, `{"body": "second"}`)
	m2 := patchJSON(t, s, id, `{"body": "third", "n": 3}`)

	// A foreign concurrent change gives the document two heads.
	other, _, err := s.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	fork, err := other.Fork()
	if err != nil {
		t.Fatal(err)
	}
	stranger := fork // a branch the store never sees
	if err := stranger.RootMap().Set("stranger", "x"); err != nil {
		t.Fatal(err)
	}
	strangerHash, err := stranger.Commit("")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		heads  []automerge.ChangeHash
		snap   bool // compact first
		edit   bool // then one more write
		wantOK bool
	}{
		{"log only, from the first write", m0.Heads, false, false, true},
		{"log only, from the middle", m1.Heads, false, false, true},
		{"at the heads", m2.Heads, false, false, true},
		{"a head the store lacks", []automerge.ChangeHash{strangerHash}, false, false, false},
		{"no heads", nil, false, false, false},
		{"folded into the snapshot", m1.Heads, true, false, false},
		{"the snapshot's heads", m2.Heads, true, true, true},
		{"inside the snapshot", m1.Heads, true, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.snap {
				if err := s.Compact(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if c.edit {
				patchJSON(t, s, id, `{"after": "snapshot"}`)
			}
			s.Forget(id)
			raw, m, ok, err := s.ChangesSince(ctx, id, c.heads)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.wantOK {
				t.Fatalf("ok = %v, want %v", ok, c.wantOK)
			}
			if isLoaded(s, id) {
				t.Fatal("ChangesSince loaded the document")
			}
			if !ok {
				return
			}
			want := changesOf(t, s, id, c.heads)
			if got := map[automerge.ChangeHash]bool{}; len(raw) > 0 {
				got = hashesOf(t, raw)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("changes = %v, want %v", got, want)
				}
			} else if len(want) != 0 {
				t.Fatalf("no changes, want %d", len(want))
			}
			// A loaded copy answers the same.
			raw2, m2, ok2, err := s.ChangesSince(ctx, id, c.heads)
			if err != nil || !ok2 || !SameHeads(m2.Heads, m.Heads) {
				t.Fatalf("loaded: ok %v err %v heads %v want %v", ok2, err, m2.Heads, m.Heads)
			}
			if len(raw2) > 0 && !reflect.DeepEqual(hashesOf(t, raw2), want) {
				t.Fatal("loaded copy answered differently")
			}
		})
	}
}

// twin returns a second store holding the same document as s at its
// current heads, stored as a snapshot and not loaded.
func twin(t *testing.T, s *Store, id DocID) *Store {
	t.Helper()
	ctx := context.Background()
	saved, _, err := s.Saved(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := openTestStore(t, Options{})
	if _, err := r.CreateFromVetted(ctx, id, "note", "clinic:a", saved); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAppendVetted(t *testing.T) {
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	base := createJSON(t, s, "note", "clinic:a", `{"body": "first"}`)
	id := base.ID
	r := twin(t, s, id)
	patchJSON(t, s, id, `{"body": "second"}`)
	top := patchJSON(t, s, id, `{"body": "third", "n": 3}`)
	raw, _, ok, err := s.ChangesSince(ctx, id, base.Heads)
	if err != nil || !ok {
		t.Fatalf("ChangesSince: ok %v err %v", ok, err)
	}

	t.Run("bad checksum changes nothing", func(t *testing.T) {
		bad := append([]byte(nil), raw...)
		bad[len(bad)-1] ^= 0xff
		if _, err := r.AppendVetted(ctx, id, bad, base.Heads); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("err = %v, want ErrCorrupt", err)
		}
		if m, _ := r.Meta(ctx, id); !SameHeads(m.Heads, base.Heads) {
			t.Fatalf("heads moved to %v", m.Heads)
		}
	})
	t.Run("wrong base", func(t *testing.T) {
		if _, err := r.AppendVetted(ctx, id, raw, top.Heads); !errors.Is(err, ErrHeadsMoved) {
			t.Fatalf("err = %v, want ErrHeadsMoved", err)
		}
	})
	t.Run("missing dependency", func(t *testing.T) {
		cs, _ := splitChunks(raw)
		if len(cs) < 2 {
			t.Fatalf("want 2 changes, have %d", len(cs))
		}
		if _, err := r.AppendVetted(ctx, id, cs[1].Raw, base.Heads); !errors.Is(err, ErrMissingDeps) {
			t.Fatalf("err = %v, want ErrMissingDeps", err)
		}
	})
	t.Run("appends without loading", func(t *testing.T) {
		m, err := r.AppendVetted(ctx, id, raw, base.Heads)
		if err != nil {
			t.Fatal(err)
		}
		if !SameHeads(m.Heads, top.Heads) || m.Seq <= 1 {
			t.Fatalf("meta %+v, want heads %v and a new seq", m, top.Heads)
		}
		if isLoaded(r, id) {
			t.Fatal("AppendVetted loaded the document")
		}
		if got, want := contentOf(t, r, id), contentOf(t, s, id); !reflect.DeepEqual(got, want) {
			t.Fatalf("content %v, want %v", got, want)
		}
		if m, _ := r.Meta(ctx, id); !SameHeads(m.Heads, top.Heads) {
			t.Fatalf("loaded heads %v, want %v", m.Heads, top.Heads)
		}
	})
	t.Run("loaded document merges", func(t *testing.T) {
		next := patchJSON(t, s, id, `{"n": 4}`)
		more, _, ok, err := s.ChangesSince(ctx, id, top.Heads)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		contentOf(t, r, id) // loaded now
		m, err := r.AppendVetted(ctx, id, more, top.Heads)
		if err != nil || !SameHeads(m.Heads, next.Heads) {
			t.Fatalf("heads %v err %v, want %v", m.Heads, err, next.Heads)
		}
	})
}
