package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
)

// The Automerge sync message (the data of request and sync) is a binary
// format of Automerge's core, not of automerge-repo:
//
//	version byte: 0x42 (v1) or 0x43 (v2)
//	heads:   uleb128 count, then 32-byte change hashes
//	need:    uleb128 count, then 32-byte change hashes
//	have:    uleb128 count, then per entry: hashes (lastSync) and a
//	         uleb128-length-prefixed bloom filter
//	changes: uleb128 count, then uleb128-length-prefixed chunks
//	capabilities (optional): uleb128 count, then one byte each
//
// Outpost parses it itself because automerge-go's 2023 core predates two
// things current JavaScript Automerge does: the capabilities trailer and v2
// messages, whose single chunk may be a whole compressed document. Newer
// cores apply the concatenation of all chunks with load_incremental, so a
// v1 message whose one chunk is a saved document is applied as well.

// Sync message version bytes.
const (
	SyncV1 = 0x42
	SyncV2 = 0x43
)

// Capabilities a peer advertises in the trailer of its sync messages.
const (
	CapMessageV1 = 0x01
	CapMessageV2 = 0x02
)

// Automerge storage chunk types (byte 8 of a chunk, after the magic bytes and
// the checksum).
const (
	ChunkDocument   = 0x00
	ChunkChange     = 0x01
	ChunkCompressed = 0x02
)

var chunkMagic = [4]byte{0x85, 0x6f, 0x4a, 0x83}

// Hash is an Automerge change hash.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Have summarises what the sender of a sync message already has.
type Have struct {
	LastSync []Hash
	Bloom    []byte
}

// SyncMessage is a parsed Automerge sync message.
type SyncMessage struct {
	Version byte
	Heads   []Hash
	Need    []Hash
	Have    []Have
	// Changes are storage chunks. In v1 each is usually one change; in v2 it
	// is one chunk that may be a whole document.
	Changes [][]byte
	// Capabilities is nil when the sender sent no trailer (older cores).
	Capabilities []byte
}

// ErrSyncMessage is wrapped by every parse error.
var ErrSyncMessage = errors.New("invalid automerge sync message")

type reader struct {
	b   []byte
	off int
}

func (r *reader) uleb() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad uleb128 at %d", ErrSyncMessage, r.off)
	}
	r.off += n
	return v, nil
}

// count reads a count of items each at least min bytes long, refusing counts
// the remaining input cannot hold, so a forged count allocates nothing.
func (r *reader) count(min int) (int, error) {
	v, err := r.uleb()
	if err != nil {
		return 0, err
	}
	if v > uint64(len(r.b)-r.off)/uint64(min) {
		return 0, fmt.Errorf("%w: count %d exceeds input at %d", ErrSyncMessage, v, r.off)
	}
	return int(v), nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *reader) hashes() ([]Hash, error) {
	n, err := r.count(32)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	hs := make([]Hash, n)
	for i := range hs {
		copy(hs[i][:], r.b[r.off:r.off+32])
		r.off += 32
	}
	return hs, nil
}

// ParseSyncMessage parses b. The returned chunks alias b.
func ParseSyncMessage(b []byte) (*SyncMessage, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrSyncMessage)
	}
	if b[0] != SyncV1 && b[0] != SyncV2 {
		return nil, fmt.Errorf("%w: version byte 0x%02x", ErrSyncMessage, b[0])
	}
	r := &reader{b: b, off: 1}
	m := &SyncMessage{Version: b[0]}
	var err error
	if m.Heads, err = r.hashes(); err != nil {
		return nil, err
	}
	if m.Need, err = r.hashes(); err != nil {
		return nil, err
	}
	n, err := r.count(2)
	if err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		var h Have
		if h.LastSync, err = r.hashes(); err != nil {
			return nil, err
		}
		if h.Bloom, err = r.bytes(); err != nil {
			return nil, err
		}
		if err := validBloom(h.Bloom); err != nil {
			return nil, err
		}
		m.Have = append(m.Have, h)
	}
	if n, err = r.count(1); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		c, err := r.bytes()
		if err != nil {
			return nil, err
		}
		m.Changes = append(m.Changes, c)
	}
	if r.off < len(b) {
		caps, err := r.bytes()
		if err != nil {
			return nil, err
		}
		m.Capabilities = append([]byte{}, caps...)
	}
	// Later format revisions may append more; like Automerge, ignore it.
	return m, nil
}

func appendHashes(b []byte, hs []Hash) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// Encode returns the binary form of m.
func (m *SyncMessage) Encode() []byte {
	size := 16 + 32*(len(m.Heads)+len(m.Need))
	for _, c := range m.Changes {
		size += len(c) + 5
	}
	b := make([]byte, 0, size)
	b = append(b, m.Version)
	b = appendHashes(b, m.Heads)
	b = appendHashes(b, m.Need)
	b = binary.AppendUvarint(b, uint64(len(m.Have)))
	for _, h := range m.Have {
		b = appendHashes(b, h.LastSync)
		b = binary.AppendUvarint(b, uint64(len(h.Bloom)))
		b = append(b, h.Bloom...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Changes)))
	for _, c := range m.Changes {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	if m.Capabilities != nil {
		b = binary.AppendUvarint(b, uint64(len(m.Capabilities)))
		b = append(b, m.Capabilities...)
	}
	return b
}

// Supports reports whether the sender advertised capability c.
func (m *SyncMessage) Supports(c byte) bool {
	for _, x := range m.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// ChangeBytes is the total length of the change chunks.
func (m *SyncMessage) ChangeBytes() int {
	n := 0
	for _, c := range m.Changes {
		n += len(c)
	}
	return n
}

// ChunkType returns the storage chunk type of b (ChunkDocument, ChunkChange
// or ChunkCompressed) and false if b does not start like a chunk.
func ChunkType(b []byte) (byte, bool) {
	if len(b) < 9 || [4]byte(b[:4]) != chunkMagic {
		return 0, false
	}
	return b[8], true
}

// Bloom filter limits. Automerge builds filters with 10 bits per entry and
// 7 probes; the limits leave room for other parameters while refusing the
// ones that crash its core.
const (
	maxBloomBitsPerEntry = 64
	maxBloomProbes       = 64
)

// validBloom checks a have's bloom filter (uleb128 entries, bits per entry,
// probes, then the bits) before it reaches Automerge's core, which divides
// by the filter's bit count (zero bits with entries is a division by zero,
// an abort that takes the process down) and allocates a vector of probes
// per lookup.
func validBloom(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	r := &reader{b: b}
	var v [3]uint64
	for i := range v {
		x, err := r.uleb()
		if err != nil {
			return err
		}
		if x > 1<<32-1 {
			return fmt.Errorf("%w: bloom field %d out of range", ErrSyncMessage, i)
		}
		v[i] = x
	}
	entries, bits, probes := v[0], v[1], v[2]
	if entries == 0 {
		return nil // Automerge never probes an empty filter
	}
	if bits == 0 || bits > maxBloomBitsPerEntry || probes == 0 || probes > maxBloomProbes {
		return fmt.Errorf("%w: bloom with %d bits per entry and %d probes", ErrSyncMessage, bits, probes)
	}
	want := (entries*bits + 7) / 8
	if uint64(len(b)-r.off) != want {
		return fmt.Errorf("%w: bloom of %d entries has %d bytes of bits, want %d", ErrSyncMessage, entries, len(b)-r.off, want)
	}
	return nil
}

// DocumentHeads reads the heads recorded in the header of a document chunk
// (Save output) without loading the document: the chunk's contents start
// with its actors and then its heads.
func DocumentHeads(chunk []byte) ([]Hash, error) {
	t, ok := ChunkType(chunk)
	if !ok || t != ChunkDocument {
		return nil, fmt.Errorf("%w: not a document chunk", ErrSyncMessage)
	}
	r := &reader{b: chunk, off: 9}
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	if r.off+n != len(chunk) {
		return nil, fmt.Errorf("%w: document chunk of %d bytes declares %d", ErrSyncMessage, len(chunk)-r.off, n)
	}
	actors, err := r.count(1)
	if err != nil {
		return nil, err
	}
	for i := 0; i < actors; i++ {
		if _, err := r.bytes(); err != nil {
			return nil, err
		}
	}
	return r.hashes()
}

// EncodeSyncState returns Automerge's encoding of a sync state whose shared
// heads are heads (the only part of a sync state that is persisted).
func EncodeSyncState(heads []Hash) []byte {
	hs := append([]Hash(nil), heads...)
	slices.SortFunc(hs, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	return appendHashes([]byte{0x43}, hs)
}

// SameHeads reports whether two head lists hold the same hashes.
func SameHeads(a, b []Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// DecodeSyncState returns the shared heads of an encoded sync state (the
// inverse of EncodeSyncState, and what automerge's SyncState.Save writes).
func DecodeSyncState(b []byte) ([]Hash, error) {
	if len(b) == 0 || b[0] != 0x43 {
		return nil, fmt.Errorf("%w: not a sync state", ErrSyncMessage)
	}
	r := &reader{b: b, off: 1}
	return r.hashes()
}
