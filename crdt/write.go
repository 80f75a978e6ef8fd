package crdt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"

	"github.com/outposthq/outpost/crdt/wire"
)

// Create makes a new document of the given type in a collection; fn fills
// its body. The document always has at least one change, so it has heads.
func (s *Store) Create(ctx context.Context, typ, collection string, fn func(*automerge.Doc) error) (Meta, error) {
	return s.write(ctx, NewDocID(), &newDoc{typ: typ, collection: collection, nonEmpty: true}, "create", fn)
}

// CreateWithID is Create for an id chosen by the caller: a document first
// received from a peer, or a result whose id derives from a job id. Unlike
// Create it adds no change of its own: with fn applying a peer's changes,
// the document holds exactly those. ErrExists if the id is taken.
func (s *Store) CreateWithID(ctx context.Context, id DocID, typ, collection string, fn func(*automerge.Doc) error) (Meta, error) {
	if id.IsZero() {
		return Meta{}, fmt.Errorf("%w: zero document id", ErrInvalid)
	}
	return s.write(ctx, id, &newDoc{typ: typ, collection: collection}, "create", fn)
}

// Update runs fn on the document under its lock, commits what fn left
// pending (with message msg), and durably stores every change that is new
// since before fn: local edits, LoadIncremental of foreign bytes and
// SyncState.ReceiveMessage all work. If fn or the write fails, the store and
// the document are as they were. It returns after the write is synced.
func (s *Store) Update(ctx context.Context, id DocID, msg string, fn func(*automerge.Doc) error) (Meta, error) {
	return s.write(ctx, id, nil, msg, fn)
}

// ApplyChanges applies foreign Automerge bytes (SaveChanges, SaveIncremental
// or Save output) to an existing document. The bytes are framed and
// checksummed before Automerge sees them: corrupt or truncated input returns
// an error wrapping ErrCorrupt and changes nothing. With Options.Verify set,
// bytes that would crash Automerge are rejected the same way.
func (s *Store) ApplyChanges(ctx context.Context, id DocID, raw []byte) (Meta, error) {
	chunks, err := parseChunks(raw)
	if err != nil {
		return Meta{}, err
	}
	return s.Update(ctx, id, "", func(doc *automerge.Doc) error {
		if err := checkDeps(doc, chunks); err != nil {
			return err
		}
		if s.opts.Verify != nil {
			if err := s.opts.Verify(ctx, id, doc, raw); err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
		}
		if err := doc.LoadIncremental(raw); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
}

// ErrMissingDeps is returned for changes that depend on changes the
// document does not have (yet): send those first.
var ErrMissingDeps = errors.New("changes depend on changes the document does not have")

// checkDeps verifies that every change chunk's dependencies are in doc or
// earlier in the same bytes.
func checkDeps(doc *automerge.Doc, chunks []wire.Chunk) error {
	seen := make(map[wire.Hash]bool, len(chunks))
	for _, c := range chunks {
		for _, d := range c.Deps {
			if seen[d] {
				continue
			}
			if _, err := doc.Change(automerge.ChangeHash(d)); err != nil {
				return fmt.Errorf("%w: %x", ErrMissingDeps, d[:8])
			}
			seen[d] = true
		}
		if c.Type != chunkDocument {
			seen[c.Hash] = true
		}
	}
	return nil
}

type newDoc struct {
	typ, collection string
	nonEmpty        bool // add an empty change when fn made none
}

func (s *Store) write(ctx context.Context, id DocID, create *newDoc, msg string, fn func(*automerge.Doc) error) (Meta, error) {
	if create != nil {
		if err := validName("type", create.typ); err != nil {
			return Meta{}, err
		}
		if err := validName("collection", create.collection); err != nil {
			return Meta{}, err
		}
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	defer s.release(h)
	if err := s.loadLocked(h); err != nil {
		return Meta{}, err
	}
	now := s.opts.Now().UTC()
	if create != nil {
		if h.exists {
			return Meta{}, fmt.Errorf("document %s: %w", id, ErrExists)
		}
		// Not visible to others until the write commits: h.exists stays
		// false and a failure discards the doc.
		h.doc = automerge.New()
		h.meta = docMeta{Type: create.typ, Collection: create.collection, Created: now}
	} else if !h.exists {
		return Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}

	// The handle's heads are the document's: every write stores them.
	oldHeads := slices.Clone(h.meta.Heads)
	if create != nil {
		oldHeads = nil
	}
	newHeads, raw, err := applyLocked(h, create, fn, msg, now, oldHeads)
	if err != nil {
		s.discardLocked(h)
		return Meta{}, err
	}
	if create == nil && SameHeads(oldHeads, newHeads) {
		return h.publicMeta(), nil // nothing new: no write, no seq
	}

	next, err := s.commitLocked(id, h.meta, newHeads, raw, now, create != nil)
	if err != nil {
		s.discardLocked(h)
		return Meta{}, err
	}
	h.meta, h.exists = next, true
	m := h.publicMeta()
	s.notify(m)
	if s.needsCompaction(h.meta) {
		if err := s.compactLocked(h); err != nil {
			// The write itself is durable; compaction is retried next time.
			s.log.Warn("compaction failed", "doc", id, "err", err)
		}
	}
	return m, nil
}

// commitLocked durably records one write of document id whose metadata was
// prev: the log entry raw (if any), the metadata with newHeads, the indexes
// and a new collection sequence number, in one synced batch. create marks
// a new document (no old index keys to delete). It returns the new
// metadata; the caller updates its handle and notifies. The document's
// handle is held.
func (s *Store) commitLocked(id DocID, prev docMeta, newHeads []automerge.ChangeHash, raw []byte, now time.Time, create bool) (docMeta, error) {
	next := prev
	next.Heads = newHeads
	next.Updated = now
	if create {
		next.Created, next.Updated = now, now
	} else if !now.After(prev.Updated) {
		// Keep update times strictly increasing per document so index
		// keys move forward even when the clock does not.
		next.Updated = prev.Updated.Add(time.Nanosecond)
	}
	next.Changes++
	if len(raw) > 0 {
		next.LogNext++
		next.LogBytes += uint64(len(raw))
	}
	seq := s.allocSeq(next.Collection)
	next.Seq = seq

	b := s.db.NewBatch()
	if len(raw) > 0 {
		b.Set(logKey(id, prev.LogNext), raw, nil)
	}
	b.Set(metaKey(id), next.encode(), nil)
	if !create {
		b.Delete(timeIndexKey(prefixByUpdated, "", prev.Updated, id), nil)
		b.Delete(timeIndexKey(prefixByType, prev.Type, prev.Updated, id), nil)
		b.Delete(timeIndexKey(prefixByCollection, prev.Collection, prev.Updated, id), nil)
		b.Delete(seqKey(prev.Collection, prev.Seq), nil)
	}
	b.Set(timeIndexKey(prefixByUpdated, "", next.Updated, id), nil, nil)
	b.Set(timeIndexKey(prefixByType, next.Type, next.Updated, id), nil, nil)
	b.Set(timeIndexKey(prefixByCollection, next.Collection, next.Updated, id), nil, nil)
	b.Set(seqKey(next.Collection, seq), id[:], nil)
	err := b.Commit(pebble.Sync)
	b.Close()
	s.finishSeq(next.Collection, seq)
	if err != nil {
		return docMeta{}, fmt.Errorf("crdt: write %s: %w", id, err)
	}
	return next, nil
}

// applyLocked runs fn on the document, commits, and returns the new heads
// and the bytes of every new change. On error the caller discards the doc.
func applyLocked(h *handle, create *newDoc, fn func(*automerge.Doc) error, msg string, now time.Time, oldHeads []automerge.ChangeHash) ([]automerge.ChangeHash, []byte, error) {
	if err := runUserFn(h.doc, fn); err != nil {
		return nil, nil, err
	}
	// Commit before anything reads heads: reading them closes the open
	// transaction without a message or time.
	hash, err := h.doc.Commit(msg, automerge.CommitOptions{Time: &now})
	if err != nil && !isEmptyCommit(err) {
		return nil, nil, fmt.Errorf("crdt: commit: %w", err)
	}
	committed := err == nil
	if !committed && create != nil && create.nonEmpty && len(h.doc.Heads()) == 0 {
		if hash, err = h.doc.Commit(msg, automerge.CommitOptions{Time: &now, AllowEmpty: true}); err != nil {
			return nil, nil, fmt.Errorf("crdt: commit: %w", err)
		}
		committed = true
	}
	return newChanges(h.doc, oldHeads, hash, committed)
}

// newChanges returns the document's heads and the bytes of every change
// since oldHeads. The common write is one local commit on top of oldHeads;
// it is recognised from the commit's dependencies and costs one change
// lookup instead of a walk of the change graph. Anything else (foreign
// changes loaded by fn, with or without a local commit) takes the general
// path.
func newChanges(doc *automerge.Doc, oldHeads []automerge.ChangeHash, hash automerge.ChangeHash, committed bool) ([]automerge.ChangeHash, []byte, error) {
	if committed {
		c, err := doc.Change(hash)
		if err != nil {
			return nil, nil, fmt.Errorf("crdt: change %s: %w", hash, err)
		}
		if SameHeads(c.Dependencies(), oldHeads) {
			// No other change can be new: one would be an ancestor of
			// hash (so among its dependencies) or a second head.
			return []automerge.ChangeHash{hash}, c.Save(), nil
		}
	}
	heads := doc.Heads()
	sortHeads(heads)
	if SameHeads(oldHeads, heads) {
		return heads, nil, nil
	}
	changes, err := doc.Changes(oldHeads...)
	if err != nil {
		return nil, nil, fmt.Errorf("crdt: changes: %w", err)
	}
	return heads, automerge.SaveChanges(changes), nil
}

// runUserFn turns a panic inside fn (automerge-go panics on some misuse)
// into an error, so a bad request cannot take down the process.
func runUserFn(doc *automerge.Doc, fn func(*automerge.Doc) error) (err error) {
	if fn == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("crdt: %w: %v", ErrCorrupt, r)
		}
	}()
	return fn(doc)
}

func isEmptyCommit(err error) bool {
	return err != nil && err.Error() == "Commit is empty"
}

// SameHeads reports whether a and b hold the same change hashes, in any
// order. It does not reorder them.
func SameHeads(a, b []automerge.ChangeHash) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[automerge.ChangeHash]bool, len(a))
	for _, h := range a {
		set[h] = true
	}
	for _, h := range b {
		if !set[h] {
			return false
		}
	}
	return true
}

// sortHeads orders heads by hash, as metadata stores them.
func sortHeads(h []automerge.ChangeHash) {
	slices.SortFunc(h, func(x, y automerge.ChangeHash) int { return bytes.Compare(x[:], y[:]) })
}

// allocSeq hands out the collection's next change sequence number and
// marks it pending until finishSeq.
func (s *Store) allocSeq(collection string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.collectionSeqLocked(collection)
	seq := cs.next
	cs.next++
	cs.pending[seq] = struct{}{}
	return seq
}

func (s *Store) finishSeq(collection string, seq uint64) {
	s.mu.Lock()
	delete(s.mu.seqs[collection].pending, seq)
	s.mu.Unlock()
}

// collectionSeqLocked returns the allocator, reading the highest stored seq
// on first use. s.mu is held.
func (s *Store) collectionSeqLocked(collection string) *collectionSeq {
	if cs := s.mu.seqs[collection]; cs != nil {
		return cs
	}
	cs := &collectionSeq{next: 1, pending: map[uint64]struct{}{}}
	lower := seqKey(collection, 0)
	upper := prefixEnd(lower[:len(lower)-8])
	if it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper}); err == nil {
		if it.Last() {
			k := it.Key()
			cs.next = beUint64(k[len(k)-8:]) + 1
		}
		it.Close()
	}
	s.mu.seqs[collection] = cs
	return cs
}

// visibleSeq is the highest seq below which every write has finished.
func (s *Store) visibleSeq(collection string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.collectionSeqLocked(collection)
	v := cs.next - 1
	for p := range cs.pending {
		if p-1 < v {
			v = p - 1
		}
	}
	return v
}

// CollectionSeq is the collection's current cursor: every change with a seq
// at or below it is durable and listed by ChangedSince.
func (s *Store) CollectionSeq(collection string) uint64 { return s.visibleSeq(collection) }

func beUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}
