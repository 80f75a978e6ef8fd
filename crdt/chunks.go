package crdt

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
//
// Change chunks are also read for their dependencies: Automerge queues a
// change whose dependencies it lacks, invisibly and outside the heads, and
// the store refuses such changes instead, so that a document's heads fully
// describe its state (which crdt/verify relies on).
var chunkMagic = []byte{0x85, 0x6f, 0x4a, 0x83}

const (
	chunkDocument         = 0
	chunkChange           = 1
	chunkCompressedChange = 2
)

// maxChunk bounds a single chunk; larger lengths are treated as corruption
// rather than allocated.
const maxChunk = 1 << 30

// chunkInfo is what the store needs to know of one chunk before Automerge
// sees it.
type chunkInfo struct {
	typ  byte
	hash [32]byte   // change hash (change chunks only)
	deps [][32]byte // change dependencies (change chunks only)
}

// validateChunks checks that b is a non-empty sequence of complete, intact
// Automerge chunks and returns how many there are.
func validateChunks(b []byte) (int, error) {
	infos, err := parseChunks(b)
	return len(infos), err
}

// parseChunks frames, checksums and describes the chunks in b.
func parseChunks(b []byte) ([]chunkInfo, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	var infos []chunkInfo
	for off, n := 0, 0; off < len(b); n++ {
		rest := b[off:]
		if len(rest) < 9 {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: truncated header", ErrCorrupt, n, off)
		}
		if !bytes.Equal(rest[:4], chunkMagic) {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: bad magic", ErrCorrupt, n, off)
		}
		typ := rest[8]
		if typ > chunkCompressedChange {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: unknown chunk type %d", ErrCorrupt, n, off, typ)
		}
		length, ln := binary.Uvarint(rest[9:])
		if ln <= 0 || length > maxChunk {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: bad length", ErrCorrupt, n, off)
		}
		end := 9 + ln + int(length)
		if end > len(rest) {
			return nil, fmt.Errorf("%w: chunk %d at byte %d: truncated: need %d bytes, have %d", ErrCorrupt, n, off, end, len(rest))
		}
		info := chunkInfo{typ: typ}
		contents := rest[9+ln : end]
		switch typ {
		case chunkDocument, chunkChange:
			info.hash = sha256.Sum256(rest[8:end])
			if !bytes.Equal(info.hash[:4], rest[4:8]) {
				return nil, fmt.Errorf("%w: chunk %d at byte %d: checksum mismatch", ErrCorrupt, n, off)
			}
		case chunkCompressedChange:
			// The checksum and hash cover the uncompressed change chunk.
			raw, err := inflate(contents)
			if err != nil {
				return nil, fmt.Errorf("%w: chunk %d at byte %d: %v", ErrCorrupt, n, off, err)
			}
			hdr := append([]byte{chunkChange}, binary.AppendUvarint(nil, uint64(len(raw)))...)
			info.hash = sha256.Sum256(append(hdr, raw...))
			if !bytes.Equal(info.hash[:4], rest[4:8]) {
				return nil, fmt.Errorf("%w: chunk %d at byte %d: checksum mismatch", ErrCorrupt, n, off)
			}
			contents = raw
		}
		if typ != chunkDocument {
			deps, err := changeDeps(contents)
			if err != nil {
				return nil, fmt.Errorf("%w: chunk %d at byte %d: %v", ErrCorrupt, n, off, err)
			}
			info.deps = deps
		}
		infos = append(infos, info)
		off += end
	}
	return infos, nil
}

// changeDeps reads the dependency hashes that open a change's contents.
func changeDeps(contents []byte) ([][32]byte, error) {
	n, ln := binary.Uvarint(contents)
	if ln <= 0 || n > uint64(len(contents)-ln)/32 {
		return nil, errors.New("bad dependency list")
	}
	deps := make([][32]byte, n)
	p := contents[ln:]
	for i := range deps {
		copy(deps[i][:], p[32*i:])
	}
	return deps, nil
}

func inflate(b []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxChunk+1))
	if err != nil {
		return nil, fmt.Errorf("inflate: %v", err)
	}
	if len(out) > maxChunk {
		return nil, errors.New("inflates past the chunk size limit")
	}
	return out, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
