package crdt

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/outposthq/outpost/crdt/verify"
)

// FuzzMergePatch applies arbitrary JSON as a merge patch. Whatever the
// input, it must either fail cleanly, leaving the document as it was, or
// succeed with a document whose content is the RFC 7386 result.
func FuzzMergePatch(f *testing.F) {
	f.Add(`{"body": "hello"}`, `{"body": "hello world"}`)
	f.Add(`{"a": {"b": 1}}`, `{"a": {"b": null, "c": [1, "x", {"d": null}]}}`)
	f.Add(`{"a": 1}`, `{"a": {"b": {"c": null}}}`)
	f.Add(`{"t": "😀🙃"}`, `{"t": "🙃😀", "n": 1e400}`)
	f.Add(`{}`, `[1,2]`)
	f.Add(`{"x": "a"}`, `{"x": "\ud800"}`)
	s, err := Open("/fuzz", Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, initial, patch string) {
		base, err := DecodeJSON([]byte(initial))
		if err != nil {
			return
		}
		m, err := s.Create(ctx, "fuzz", "fuzz", func(d *automerge.Doc) error { return SetContent(d, base) })
		if err != nil {
			if !errors.Is(err, ErrBadContent) {
				t.Fatalf("create: unexpected error %v", err)
			}
			return
		}
		before := contentOf(t, s, m.ID)
		p, err := DecodeJSON([]byte(patch))
		if err != nil {
			if !errors.Is(err, ErrBadContent) {
				t.Fatalf("decode: error %v does not wrap ErrBadContent", err)
			}
			return
		}
		_, err = s.Update(ctx, m.ID, "patch", func(d *automerge.Doc) error { return ApplyMergePatch(d, p) })
		after := contentOf(t, s, m.ID)
		if err != nil {
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("failed patch changed the document: %v -> %v", before, after)
			}
			return
		}
		want := referenceMergePatch(before, p)
		if !reflect.DeepEqual(normalizeJSON(after), normalizeJSON(want)) {
			t.Fatalf("patch %s on %s:\n got %#v\nwant %#v", patch, initial, after, want)
		}
	})
}

// referenceMergePatch is RFC 7386's pseudocode, on plain values.
func referenceMergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	out := make(map[string]any, len(t))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = referenceMergePatch(out[k], v)
		}
	}
	return out
}

// normalizeJSON maps every number to float64 so that int64 from Automerge
// and json.Number from a patch compare equal.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeJSON(e)
		}
		return out
	case int64:
		return float64(x)
	case interface{ Float64() (float64, error) }:
		f, _ := x.Float64()
		return f
	}
	return v
}

// FuzzApplyChanges feeds arbitrary bytes to ApplyChanges. Bytes that are
// not intact Automerge chunks must be rejected with ErrCorrupt and change
// nothing; nothing may panic.
func FuzzApplyChanges(f *testing.F) {
	src := automerge.New()
	src.RootMap().Set("body", automerge.NewText("hello"))
	src.Commit("one")
	saved := src.Save()
	src.RootMap().Set("n", int64(1))
	src.Commit("two")
	inc := src.SaveIncremental()
	chs, _ := src.Changes()
	f.Add(saved)
	f.Add(inc)
	f.Add(automerge.SaveChanges(chs))
	f.Add(saved[:len(saved)/2])
	f.Add([]byte{0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{})

	s, err := Open("/fuzz", Options{FS: vfs.NewMem()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := s.Create(ctx, "fuzz", "fuzz", func(d *automerge.Doc) error {
			return d.RootMap().Set("x", int64(1))
		})
		if err != nil {
			t.Fatal(err)
		}
		before := contentOf(t, s, m.ID)
		got, err := s.ApplyChanges(ctx, m.ID, raw)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMissingDeps) {
				t.Fatalf("error %v wraps neither ErrCorrupt nor ErrMissingDeps", err)
			}
			after, _ := s.Meta(ctx, m.ID)
			if !reflect.DeepEqual(after.Heads, m.Heads) || after.Seq != m.Seq {
				t.Fatalf("rejected bytes changed the document")
			}
			if c := contentOf(t, s, m.ID); !reflect.DeepEqual(c, before) {
				t.Fatalf("rejected bytes changed content")
			}
			return
		}
		// Accepted bytes leave a document that survives a reload.
		s.mu.Lock()
		if h := s.mu.docs[m.ID]; h != nil {
			h.loaded = false
		}
		s.mu.Unlock()
		if _, err := s.Meta(ctx, got.ID); err != nil {
			t.Fatal(err)
		}
		contentOf(t, s, m.ID)
	})
}

// FuzzApplyFramedChanges wraps arbitrary contents in a correctly framed and
// checksummed change chunk, so that the bytes get past the framing check
// and exercise Automerge's own parser. It must reject or apply, never crash.
func FuzzApplyFramedChanges(f *testing.F) {
	src := automerge.New()
	src.RootMap().Set("body", automerge.NewText("hello"))
	src.Commit("one")
	chs, _ := src.Changes()
	raw := chs[0].Save()
	// Seed with the real change's contents, so mutations stay near valid.
	_, ln := uvarintLen(raw[9:])
	f.Add(byte(chunkChange), raw[9+ln:])
	f.Add(byte(chunkDocument), src.Save()[9+2:])
	f.Add(byte(chunkCompressedChange), []byte{1, 2, 3})

	s := vettedMemStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, typ byte, contents []byte) {
		m, err := s.Create(ctx, "fuzz", "fuzz", nil)
		if err != nil {
			t.Fatal(err)
		}
		framed := frameChunk(typ%3, contents)
		if _, err := s.ApplyChanges(ctx, m.ID, framed); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMissingDeps) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		if _, err := s.Meta(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func uvarintLen(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func frameChunk(typ byte, contents []byte) []byte {
	body := []byte{typ}
	for n := uint64(len(contents)); ; {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			body = append(body, c|0x80)
			continue
		}
		body = append(body, c)
		break
	}
	body = append(body, contents...)
	sum := sha256.Sum256(body)
	out := append([]byte{0x85, 0x6f, 0x4a, 0x83}, sum[:4]...) // magic, checksum
	return append(out, body...)
}

// vettedMemStore is an in-memory store that vets foreign bytes in a worker
// process, as nodes and servers do; both close with the fuzz test.
func vettedMemStore(f *testing.F) *Store {
	v, err := verify.New(verify.Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { v.Close() })
	s, err := Open("/fuzz", Options{FS: vfs.NewMem(), Verify: v.Chunks})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	return s
}
