package sync

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/outposthq/outpost/crdt/wire"
)

// The fast-forward path (forward.go) reasons about change chunks without
// Automerge: their hashes and dependencies are in the bytes. This is the
// framing of the Automerge storage format, as crdt/chunks.go reads it for
// the store:
//
//	magic(4) checksum(4) type(1) length(uLEB128) contents(length)
//
// where checksum is the start of SHA-256 over type, length and contents
// (over the inflated change for a compressed one), that SHA-256 is the
// change's hash, and a change's contents open with its dependencies.

// maxChange bounds one change chunk (and what one may inflate to).
const maxChange = 64 << 20

// change is one change chunk of a sync message or a store's log.
type change struct {
	hash wire.Hash
	deps []wire.Hash
	raw  []byte
}

var errChunk = errors.New("malformed change chunk")

// splitChanges frames, checksums and describes the change chunks of b. A
// document chunk or anything malformed is an error.
func splitChanges(b []byte) ([]change, error) {
	var out []change
	for off := 0; off < len(b); {
		c, n, err := parseChange(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w at byte %d: %v", errChunk, off, err)
		}
		out = append(out, c)
		off += n
	}
	return out, nil
}

func parseChange(b []byte) (change, int, error) {
	if typ, ok := wire.ChunkType(b); !ok || (typ != wire.ChunkChange && typ != wire.ChunkCompressed) {
		return change{}, 0, errors.New("not a change chunk")
	}
	length, ln := binary.Uvarint(b[9:])
	if ln <= 0 || length > maxChange || uint64(len(b)-9-ln) < length {
		return change{}, 0, errors.New("bad length")
	}
	end := 9 + ln + int(length)
	contents := b[9+ln : end]
	var sum [32]byte
	if b[8] == wire.ChunkChange {
		sum = sha256.Sum256(b[8:end])
	} else {
		raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(contents)), maxChange+1))
		if err != nil || len(raw) > maxChange {
			return change{}, 0, errors.New("bad compressed change")
		}
		hdr := binary.AppendUvarint([]byte{wire.ChunkChange}, uint64(len(raw)))
		sum = sha256.Sum256(append(hdr, raw...))
		contents = raw
	}
	if !bytes.Equal(sum[:4], b[4:8]) {
		return change{}, 0, errors.New("checksum mismatch")
	}
	n, dl := binary.Uvarint(contents)
	if dl <= 0 || n > uint64(len(contents)-dl)/32 {
		return change{}, 0, errors.New("bad dependency list")
	}
	c := change{hash: wire.Hash(sum), deps: make([]wire.Hash, n), raw: b[:end:end]}
	for i := range c.deps {
		copy(c.deps[i][:], contents[dl+32*i:])
	}
	return c, end, nil
}

// headsAfter returns the heads of a document at heads once changes are
// applied, if every change is certainly new to it: it depends only on
// heads or earlier changes (so none of them can be an ancestor of heads,
// except one with no dependencies, or equal to a head, which is refused).
func headsAfter(heads []wire.Hash, changes []change) ([]wire.Hash, bool) {
	cur := make(map[wire.Hash]bool, len(heads)+len(changes))
	for _, h := range heads {
		cur[h] = true
	}
	added := make(map[wire.Hash]bool, len(changes))
	for _, c := range changes {
		if added[c.hash] || cur[c.hash] || len(c.deps) == 0 {
			return nil, false
		}
		for _, d := range c.deps {
			if !cur[d] && !added[d] {
				return nil, false
			}
		}
		for _, d := range c.deps {
			delete(cur, d)
		}
		cur[c.hash], added[c.hash] = true, true
	}
	out := make([]wire.Hash, 0, len(cur))
	for h := range cur {
		out = append(out, h)
	}
	return sortHashes(out), true
}

// Automerge's bloom filter of change hashes (its sync protocol's "have"):
// 10 bits per entry, 7 probes, probe positions derived from the first 12
// bytes of each hash by double hashing.
const (
	bloomBitsPerEntry = 10
	bloomProbes       = 7
)

// bloomOf encodes the filter Automerge builds for hashes: uLEB128 entries,
// bits per entry and probes, then the bits; empty for no hashes.
func bloomOf(hashes []wire.Hash) []byte {
	if len(hashes) == 0 {
		return nil
	}
	bits := make([]byte, (len(hashes)*bloomBitsPerEntry+7)/8)
	modulo := uint32(8 * len(bits))
	for _, h := range hashes {
		x := binary.LittleEndian.Uint32(h[0:4]) % modulo
		y := binary.LittleEndian.Uint32(h[4:8]) % modulo
		z := binary.LittleEndian.Uint32(h[8:12]) % modulo
		bits[x>>3] |= 1 << (x & 7)
		for i := 1; i < bloomProbes; i++ {
			x = (x + y) % modulo
			y = (y + z) % modulo
			bits[x>>3] |= 1 << (x & 7)
		}
	}
	out := binary.AppendUvarint(nil, uint64(len(hashes)))
	out = binary.AppendUvarint(out, bloomBitsPerEntry)
	out = binary.AppendUvarint(out, bloomProbes)
	return append(out, bits...)
}
