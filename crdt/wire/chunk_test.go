package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
)

// frame builds a chunk of type typ around contents, as Automerge does.
func frame(typ byte, contents []byte) []byte {
	body := binary.AppendUvarint([]byte{typ}, uint64(len(contents)))
	body = append(body, contents...)
	sum := sha256.Sum256(body)
	out := append(append([]byte(nil), chunkMagic[:]...), sum[:4]...)
	return append(out, body...)
}

// change builds a change chunk whose contents are its dependencies and a
// tag that tells changes apart (enough for the framing; Automerge would
// want more).
func change(tag byte, deps ...Hash) []byte {
	c := binary.AppendUvarint(nil, uint64(len(deps)))
	for _, d := range deps {
		c = append(c, d[:]...)
	}
	return frame(ChunkChange, append(c, tag))
}

func hashOf(chunk []byte) Hash {
	cs, err := ParseChunks(chunk, 1<<20)
	if err != nil {
		panic(err)
	}
	return cs[0].Hash
}

func TestParseChunks(t *testing.T) {
	a := change(1)
	b := change(2, hashOf(a))
	doc := frame(ChunkDocument, []byte{0, 0})
	bad := append([]byte(nil), b...)
	bad[len(bad)-1] ^= 1
	tests := []struct {
		name  string
		in    []byte
		types []byte
		err   bool
	}{
		{"one change", a, []byte{ChunkChange}, false},
		{"changes and a document", append(append(append([]byte(nil), a...), b...), doc...), []byte{ChunkChange, ChunkChange, ChunkDocument}, false},
		{"empty", nil, nil, true},
		{"truncated", b[:len(b)-1], nil, true},
		{"trailing byte", append(append([]byte(nil), a...), 0), nil, true},
		{"checksum mismatch", bad, nil, true},
		{"unknown type", frame(7, []byte{0}), nil, true},
		{"over the limit", frame(ChunkChange, make([]byte, 2<<20)), nil, true},
		{"dependency list past the end", frame(ChunkChange, []byte{3, 1, 2}), nil, true},
	}
	for _, tt := range tests {
		cs, err := ParseChunks(tt.in, 1<<20)
		if tt.err {
			if !errors.Is(err, ErrChunk) {
				t.Errorf("%s: err = %v, want ErrChunk", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		var joined []byte
		for i, c := range cs {
			if c.Type != tt.types[i] {
				t.Errorf("%s: chunk %d type %d, want %d", tt.name, i, c.Type, tt.types[i])
			}
			joined = append(joined, c.Raw...)
		}
		if !bytes.Equal(joined, tt.in) {
			t.Errorf("%s: chunks do not cover the input", tt.name)
		}
	}
	cs, _ := ParseChunks(b, 1<<20)
	if len(cs[0].Deps) != 1 || cs[0].Deps[0] != hashOf(a) {
		t.Errorf("deps of b = %x, want [%x]", cs[0].Deps, hashOf(a))
	}
}

func TestHeadsAfter(t *testing.T) {
	root := change(0)
	a := change(1, hashOf(root))
	b := change(2, hashOf(root))
	ab := change(3, hashOf(a), hashOf(b))
	c := change(4, hashOf(a))
	parse := func(chunks ...[]byte) []Chunk {
		cs, err := ParseChunks(bytes.Join(chunks, nil), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	tests := []struct {
		name  string
		heads []Hash
		add   []Chunk
		want  []Hash // nil: refused
	}{
		{"linear", []Hash{hashOf(root)}, parse(a), []Hash{hashOf(a)}},
		{"chain", []Hash{hashOf(root)}, parse(a, c), []Hash{hashOf(c)}},
		{"merge of two heads", []Hash{hashOf(a), hashOf(b)}, parse(ab), []Hash{hashOf(ab)}},
		// Conservative: a fork inside one batch could be admitted, but the
		// fast paths need only chains, and anything refused is merged by
		// Automerge instead.
		{"fork inside the batch", []Hash{hashOf(root)}, parse(a, b), nil},
		{"second head stays", []Hash{hashOf(a), hashOf(b)}, parse(c), hashList(hashOf(b), hashOf(c))},
		{"dependency not a head", []Hash{hashOf(a)}, parse(b), nil},
		{"no dependencies", []Hash{hashOf(a)}, parse(root), nil},
		{"already a head", []Hash{hashOf(a)}, parse(a), nil},
		{"a document", []Hash{hashOf(a)}, parse(frame(ChunkDocument, []byte{0})), nil},
	}
	for _, tt := range tests {
		got, err := HeadsAfter(tt.heads, tt.add)
		if tt.want == nil {
			if err == nil {
				t.Errorf("%s: heads %x, want refusal", tt.name, got)
			}
			continue
		}
		if err != nil || !SameHeads(got, tt.want) {
			t.Errorf("%s: %x, %v; want %x", tt.name, got, err, tt.want)
		}
	}
}

func hashList(hs ...Hash) []Hash { return hs }

func FuzzParseChunks(f *testing.F) {
	a := change(1)
	f.Add(a)
	f.Add(append(append([]byte(nil), a...), change(2, hashOf(a))...))
	f.Add(frame(ChunkDocument, []byte{0, 0}))
	f.Add(frame(ChunkCompressed, []byte{1, 2, 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseChunks(b, 1<<20)
		if err != nil {
			if !errors.Is(err, ErrChunk) {
				t.Fatalf("error %v does not wrap ErrChunk", err)
			}
			return
		}
		var joined []byte
		for _, c := range cs {
			if !bytes.Equal(c.Hash[:4], c.Raw[4:8]) {
				t.Fatalf("chunk hash %x does not match its checksum %x", c.Hash[:4], c.Raw[4:8])
			}
			joined = append(joined, c.Raw...)
		}
		if !bytes.Equal(joined, b) {
			t.Fatal("chunks do not cover the input exactly")
		}
	})
}
