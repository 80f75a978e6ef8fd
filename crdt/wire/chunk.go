package wire

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Automerge storage chunk framing (the automerge binary format):
//
//	magic(4) checksum(4) type(1) length(uLEB128) contents(length)
//
// checksum is the first four bytes of SHA-256 over type, length and
// contents; for a compressed change, over the uncompressed change chunk.
// Automerge's own loader accepts a truncated tail silently (it keeps the
// chunks it could parse), so foreign bytes are framed and checksummed in Go
// before they reach it: the store and the sync engine both read chunks
// through ParseChunks.

// ErrChunk is wrapped by every ParseChunks error.
var ErrChunk = errors.New("malformed automerge chunk")

// Chunk is one framed chunk.
type Chunk struct {
	Type byte   // ChunkDocument, ChunkChange or ChunkCompressed
	Hash Hash   // SHA-256 of the (uncompressed) chunk: a change's hash
	Deps []Hash // a change's dependencies; nil for a document
	Raw  []byte // the chunk as framed in the input (a subslice of it)
}

// ParseChunks frames, checksums and describes every chunk of b, which must
// hold at least one and nothing else. limit bounds each chunk's length and
// what a compressed change may inflate to: larger is treated as corruption
// rather than allocated.
func ParseChunks(b []byte, limit int) ([]Chunk, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrChunk)
	}
	var out []Chunk
	for off := 0; off < len(b); {
		c, err := parseChunk(b[off:], limit)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: %v", ErrChunk, len(out), off, err)
		}
		out = append(out, c)
		off += len(c.Raw)
	}
	return out, nil
}

func parseChunk(b []byte, limit int) (Chunk, error) {
	if len(b) < 9 {
		return Chunk{}, errors.New("truncated header")
	}
	if [4]byte(b[:4]) != chunkMagic {
		return Chunk{}, errors.New("bad magic")
	}
	typ := b[8]
	if typ > ChunkCompressed {
		return Chunk{}, fmt.Errorf("unknown chunk type %d", typ)
	}
	length, ln := binary.Uvarint(b[9:])
	if ln <= 0 || length > uint64(limit) {
		return Chunk{}, errors.New("bad length")
	}
	end := 9 + ln + int(length)
	if end > len(b) {
		return Chunk{}, fmt.Errorf("truncated: need %d bytes, have %d", end, len(b))
	}
	c := Chunk{Type: typ, Raw: b[:end:end]}
	contents := b[9+ln : end]
	if typ == ChunkCompressed {
		raw, err := inflate(contents, limit)
		if err != nil {
			return Chunk{}, err
		}
		hdr := binary.AppendUvarint([]byte{ChunkChange}, uint64(len(raw)))
		c.Hash = sha256.Sum256(append(hdr, raw...))
		contents = raw
	} else {
		c.Hash = sha256.Sum256(b[8:end])
	}
	if !bytes.Equal(c.Hash[:4], b[4:8]) {
		return Chunk{}, errors.New("checksum mismatch")
	}
	if typ != ChunkDocument {
		// A change's contents open with its dependencies.
		n, dl := binary.Uvarint(contents)
		if dl <= 0 || n > uint64(len(contents)-dl)/32 {
			return Chunk{}, errors.New("bad dependency list")
		}
		c.Deps = make([]Hash, n)
		for i := range c.Deps {
			copy(c.Deps[i][:], contents[dl+32*i:])
		}
	}
	return c, nil
}

func inflate(b []byte, limit int) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("inflate: %v", err)
	}
	if len(out) > limit {
		return nil, errors.New("inflates past the chunk size limit")
	}
	return out, nil
}

// HeadsAfter returns the heads of a document at heads once changes are
// applied, provided every change is certainly new to it: it depends only on
// the heads as they stand after the changes before it. A change with no
// dependencies, or equal to a head, might be one the document has (which
// Automerge would skip), so it is refused too; so is a fork inside the
// batch, which callers leave to Automerge. Without a load, this is how a store or a sync peer knows
// the outcome of appending changes.
func HeadsAfter(heads []Hash, changes []Chunk) ([]Hash, error) {
	cur := make(map[Hash]bool, len(heads)+len(changes))
	for _, h := range heads {
		cur[h] = true
	}
	added := make(map[Hash]bool, len(changes))
	for _, c := range changes {
		if c.Type == ChunkDocument || added[c.Hash] || cur[c.Hash] || len(c.Deps) == 0 {
			return nil, fmt.Errorf("change %x is not certainly new on top of the heads", c.Hash[:8])
		}
		for _, d := range c.Deps {
			if !cur[d] && !added[d] {
				return nil, fmt.Errorf("change %x depends on %x, not a head or an earlier change", c.Hash[:8], d[:8])
			}
		}
		for _, d := range c.Deps {
			delete(cur, d)
		}
		cur[c.Hash], added[c.Hash] = true, true
	}
	out := make([]Hash, 0, len(cur))
	for h := range cur {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	return out, nil
}
