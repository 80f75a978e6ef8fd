package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/automerge/automerge-go"
)

// Pebble key layout. Every key starts with one prefix byte naming its
// keyspace; the store owns the prefixes below, and other packages that keep
// data in the same Pebble (through Store.DB) must use one of the Prefix*
// constants reserved for them, so that no two packages ever share a range.
//
// Integers in keys are big-endian so that byte order is numeric order.
// Strings in keys (type, collection, peer) never contain 0x00 (validated on
// the way in), so a 0x00 terminator keeps "clinic:a" from being a prefix
// range of "clinic:ab".
const (
	// 'm' id → encoded docMeta.
	prefixMeta byte = 'm'
	// 'l' id idx(8) → raw Automerge change bytes, one entry per write. Entries
	// with idx < docMeta.logStart have been folded into the snapshot and
	// deleted.
	prefixLog byte = 'l'
	// 's' id → Doc.Save() bytes covering every log entry below logStart.
	prefixSnapshot byte = 's'
	// 'u' ^updatedNanos(8) id → nil. All documents, newest first.
	prefixByUpdated byte = 'u'
	// 't' type 0x00 ^updatedNanos(8) id → nil. Documents of one type, newest first.
	prefixByType byte = 't'
	// 'c' collection 0x00 ^updatedNanos(8) id → nil. Documents of one collection, newest first.
	prefixByCollection byte = 'c'
	// 'q' collection 0x00 seq(8) → id. The per-collection change sequence:
	// every write to a document moves it to a new, higher seq, so scanning
	// from a cursor yields each changed document once.
	prefixCollectionSeq byte = 'q'
	// 'p' peer 0x00 id → sync state bytes for that peer and document.
	prefixSyncState byte = 'p'
	// 'b' sha256(32) → blobMeta; 'B' sha256(32) chunk(4) → up to blobChunk bytes.
	prefixBlob      byte = 'b'
	prefixBlobChunk byte = 'B'
)

// Prefixes reserved for packages that share the store's Pebble through
// Store.DB. Each must keep to its own prefix.
const (
	PrefixJobs   byte = 'j' // node's durable job queue
	PrefixTokens byte = 'k' // access tokens
	PrefixSync   byte = 'y' // sync engine bookkeeping beyond per-document states
	PrefixApp    byte = 'z' // anything else a node needs to remember
)

func metaKey(id DocID) []byte { return append([]byte{prefixMeta}, id[:]...) }

func snapshotKey(id DocID) []byte { return append([]byte{prefixSnapshot}, id[:]...) }

func logKey(id DocID, idx uint64) []byte {
	k := make([]byte, 1+16+8)
	k[0] = prefixLog
	copy(k[1:], id[:])
	binary.BigEndian.PutUint64(k[17:], idx)
	return k
}

func timeIndexKey(prefix byte, name string, updated time.Time, id DocID) []byte {
	k := make([]byte, 0, 1+len(name)+1+8+16)
	k = append(k, prefix)
	if prefix != prefixByUpdated {
		k = append(k, name...)
		k = append(k, 0)
	}
	k = binary.BigEndian.AppendUint64(k, ^uint64(updated.UnixNano()))
	return append(k, id[:]...)
}

func seqKey(collection string, seq uint64) []byte {
	k := make([]byte, 0, 1+len(collection)+1+8)
	k = append(k, prefixCollectionSeq)
	k = append(k, collection...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func syncStateKey(peer string, id DocID) []byte {
	k := make([]byte, 0, 1+len(peer)+1+16)
	k = append(k, prefixSyncState)
	k = append(k, peer...)
	k = append(k, 0)
	return append(k, id[:]...)
}

// prefixEnd returns the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// docMeta is what the store keeps per document beside its changes.
type docMeta struct {
	Type, Collection string
	Created, Updated time.Time
	Heads            []automerge.ChangeHash
	Seq              uint64 // collection change sequence of the latest write
	LogStart         uint64 // first log index not folded into the snapshot
	LogNext          uint64 // index the next log entry gets
	LogBytes         uint64 // bytes in log entries [LogStart, LogNext)
	Changes          uint64 // writes ever made (for history size hints)
}

const metaVersion = 1

func (m *docMeta) encode() []byte {
	b := make([]byte, 0, 64+len(m.Type)+len(m.Collection)+32*len(m.Heads))
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, uint64(len(m.Type)))
	b = append(b, m.Type...)
	b = binary.AppendUvarint(b, uint64(len(m.Collection)))
	b = append(b, m.Collection...)
	b = binary.AppendVarint(b, m.Created.UnixNano())
	b = binary.AppendVarint(b, m.Updated.UnixNano())
	for _, v := range []uint64{m.Seq, m.LogStart, m.LogNext, m.LogBytes, m.Changes, uint64(len(m.Heads))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, h := range m.Heads {
		b = append(b, h[:]...)
	}
	return b
}

var errBadMeta = errors.New("malformed document metadata")

func decodeMeta(b []byte) (docMeta, error) {
	var m docMeta
	if len(b) == 0 || b[0] != metaVersion {
		return m, errBadMeta
	}
	r := metaReader{b: b[1:]}
	m.Type = r.str()
	m.Collection = r.str()
	m.Created = time.Unix(0, r.varint()).UTC()
	m.Updated = time.Unix(0, r.varint()).UTC()
	m.Seq, m.LogStart, m.LogNext, m.LogBytes, m.Changes = r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint()
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b))/32 {
		return m, errBadMeta
	}
	m.Heads = make([]automerge.ChangeHash, n)
	for i := range m.Heads {
		copy(m.Heads[i][:], r.b[:32])
		r.b = r.b[32:]
	}
	if len(r.b) != 0 {
		return m, fmt.Errorf("%w: %d trailing bytes", errBadMeta, len(r.b))
	}
	return m, nil
}

type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadMeta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadMeta
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadMeta
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
