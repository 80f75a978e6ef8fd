package crdt

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Query selects documents for List. Empty fields match everything.
type Query struct {
	Type       string
	Collection string
	// Limit caps the page (default 50, at most 1000).
	Limit int
	// Cursor continues a previous page (its Next).
	Cursor string
}

// List returns documents newest-updated first, and a cursor for the next
// page ("" when there is none).
func (s *Store) List(ctx context.Context, q Query) ([]Meta, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	var prefix []byte
	switch {
	case q.Collection != "":
		prefix = append([]byte{prefixByCollection}, q.Collection...)
		prefix = append(prefix, 0)
	case q.Type != "":
		prefix = append([]byte{prefixByType}, q.Type...)
		prefix = append(prefix, 0)
	default:
		prefix = []byte{prefixByUpdated}
	}
	start := prefix
	if q.Cursor != "" {
		pos, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(pos) != 8+16 {
			return nil, "", fmt.Errorf("%w: bad cursor", ErrInvalid)
		}
		// Start just after the last key of the previous page.
		start = append(append(append([]byte(nil), prefix...), pos...), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	var out []Meta
	var last []byte
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		k := it.Key()
		var id DocID
		copy(id[:], k[len(k)-16:])
		m, err := s.readMeta(id)
		if err != nil {
			return nil, "", err
		}
		if q.Type != "" && m.Type != q.Type {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString(last), nil
		}
		out = append(out, m)
		last = append(last[:0], k[len(k)-24:]...)
	}
	return out, "", it.Error()
}

// ChangedSince lists the documents of a collection written after cursor
// `after`, ascending by Seq, each once at its latest write. Pass the last
// Meta.Seq seen as the next cursor. Only durable, gap-free writes are shown
// (see Store's invariants), so no change is ever skipped.
func (s *Store) ChangedSince(ctx context.Context, collection string, after uint64, limit int) ([]Meta, error) {
	if limit <= 0 {
		limit = 1000
	}
	visible := s.visibleSeq(collection)
	if after >= visible {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: seqKey(collection, after+1),
		UpperBound: seqKey(collection, visible+1),
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Meta
	for ok := it.First(); ok && len(out) < limit; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var id DocID
		copy(id[:], it.Value())
		m, err := s.readMeta(id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, it.Error()
}
