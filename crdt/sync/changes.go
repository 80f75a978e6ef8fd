package sync

import (
	"encoding/binary"
	"fmt"

	"github.com/outposthq/outpost/crdt/wire"
)

// The fast-forward path (forward.go) reasons about change chunks without
// Automerge: their hashes and dependencies are in the bytes, which
// wire.ParseChunks reads (as it does for the store).

// maxChange bounds one change chunk (and what one may inflate to).
const maxChange = 64 << 20

// change is one change chunk of a sync message or a store's log.
type change = wire.Chunk

// splitChanges frames, checksums and describes the change chunks of b. A
// document chunk or anything malformed is an error.
func splitChanges(b []byte) ([]change, error) {
	cs, err := wire.ParseChunks(b, maxChange)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		if c.Type == wire.ChunkDocument {
			return nil, fmt.Errorf("%w: chunk %d is a document, not a change", wire.ErrChunk, i)
		}
	}
	return cs, nil
}

// headsAfter is wire.HeadsAfter as a yes or no: anything uncertain takes
// the general path.
func headsAfter(heads []wire.Hash, changes []change) ([]wire.Hash, bool) {
	hs, err := wire.HeadsAfter(heads, changes)
	return hs, err == nil
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
