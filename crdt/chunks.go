package crdt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt is returned for bytes that are not well-formed Automerge data.
var ErrCorrupt = errors.New("corrupt automerge data")

// Automerge storage chunk framing (the automerge binary format):
//
//	magic(4) checksum(4) type(1) length(uLEB128) contents(length)
//
// checksum is the first four bytes of SHA-256 over type, length and contents.
// Automerge's own incremental loader accepts a truncated tail silently (it
// keeps the chunks it could parse), so foreign bytes are framed and
// checksummed here, in Go, before they reach it: a caller then either gets all
// of its changes applied or an error and no change.
var chunkMagic = []byte{0x85, 0x6f, 0x4a, 0x83}

const (
	chunkDocument         = 0
	chunkChange           = 1
	chunkCompressedChange = 2
)

// maxChunk bounds a single chunk; larger lengths are treated as corruption
// rather than allocated.
const maxChunk = 1 << 30

// validateChunks checks that b is a non-empty sequence of complete, intact
// Automerge chunks and returns how many there are.
func validateChunks(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	n := 0
	for off := 0; off < len(b); n++ {
		rest := b[off:]
		if len(rest) < 9 {
			return n, fmt.Errorf("%w: chunk %d at byte %d: truncated header", ErrCorrupt, n, off)
		}
		if !bytes.Equal(rest[:4], chunkMagic) {
			return n, fmt.Errorf("%w: chunk %d at byte %d: bad magic", ErrCorrupt, n, off)
		}
		typ := rest[8]
		if typ > chunkCompressedChange {
			return n, fmt.Errorf("%w: chunk %d at byte %d: unknown chunk type %d", ErrCorrupt, n, off, typ)
		}
		length, ln := binary.Uvarint(rest[9:])
		if ln <= 0 || length > maxChunk {
			return n, fmt.Errorf("%w: chunk %d at byte %d: bad length", ErrCorrupt, n, off)
		}
		end := 9 + ln + int(length)
		if end > len(rest) {
			return n, fmt.Errorf("%w: chunk %d at byte %d: truncated: need %d bytes, have %d", ErrCorrupt, n, off, end, len(rest))
		}
		// A compressed change's checksum covers its uncompressed form;
		// Automerge verifies it after inflating.
		if typ != chunkCompressedChange {
			sum := sha256.Sum256(rest[8:end])
			if !bytes.Equal(sum[:4], rest[4:8]) {
				return n, fmt.Errorf("%w: chunk %d at byte %d: checksum mismatch", ErrCorrupt, n, off)
			}
		}
		off += end
	}
	return n, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
