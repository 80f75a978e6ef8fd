package crdt

import (
	"errors"
	"fmt"

	"github.com/outposthq/outpost/crdt/wire"
)

// ErrCorrupt is returned for bytes that are not well-formed Automerge data.
var ErrCorrupt = errors.New("corrupt automerge data")

// Foreign bytes are framed and checksummed in Go (wire.ParseChunks) before
// Automerge sees them: its incremental loader silently keeps the chunks it
// could parse of a truncated input, and a caller must get either all of its
// changes applied or an error and no change.
//
// Change chunks are also read for their dependencies: Automerge queues a
// change whose dependencies it lacks, invisibly and outside the heads, and
// the store refuses such changes instead, so that a document's heads fully
// describe its state (which crdt/verify relies on).

const (
	chunkDocument         = wire.ChunkDocument
	chunkChange           = wire.ChunkChange
	chunkCompressedChange = wire.ChunkCompressed
)

// maxChunk bounds a single chunk (and what a compressed change may inflate
// to); larger lengths are treated as corruption rather than allocated.
const maxChunk = 1 << 30

// parseChunks frames, checksums and describes the chunks in b.
func parseChunks(b []byte) ([]wire.Chunk, error) {
	cs, err := wire.ParseChunks(b, maxChunk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return cs, nil
}
