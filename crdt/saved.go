package crdt

import (
	"context"

	"errors"
	"fmt"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"

	"github.com/outposthq/outpost/crdt/wire"
)

// Whole documents in and out without Automerge.
//
// A cold sync moves thousands of documents whole: the sender's store holds
// each as a snapshot (Save form), the receiver's store will hold it as a
// snapshot, and in between nobody needs to look inside. Loading a note into
// automerge-go takes about a millisecond and a half and hundreds of
// kilobytes of C memory, so Saved and CreateFromSaved move the bytes
// between Pebble and the caller and read only what the store must know
// (heads) from the chunk header.
//
// Invariants kept here as in write.go:
//   - A document created from saved bytes is the snapshot alone (empty log),
//     with metadata, indexes and its collection sequence number in one
//     synced batch.
//   - Saved returns a single document chunk: a document whose log is not
//     empty is compacted first, which is the same folding compaction does
//     anyway, paid once per change instead of once per send.
//   - Neither method leaves a document loaded that was not loaded before:
//     documents that sync only passes through do not fill the cache.

// Saved returns the whole document in Save form (one document chunk) and
// its metadata. A document whose changes are all in its snapshot is read
// from Pebble without being loaded; otherwise it is loaded, saved and
// compacted, so the next call is cheap.
func (s *Store) Saved(ctx context.Context, id DocID) ([]byte, Meta, error) {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return nil, Meta{}, err
	}
	defer s.release(h)
	wasLoaded := h.loaded
	var meta docMeta
	if h.loaded {
		if !h.exists {
			return nil, Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		meta = h.meta
	} else {
		raw, closer, err := s.db.Get(metaKey(id))
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return nil, Meta{}, err
		}
		meta, err = decodeMeta(raw)
		closer.Close()
		if err != nil {
			return nil, Meta{}, fmt.Errorf("crdt: document %s: %w", id, err)
		}
	}
	if meta.LogStart == meta.LogNext {
		snap, err := s.snapshot(id)
		if err != nil {
			return nil, Meta{}, err
		}
		if len(snap) > 0 {
			pm := handle{id: id, meta: meta}
			return snap, pm.publicMeta(), nil
		}
		// No snapshot and no log: a document without changes. Save an
		// empty one below.
	}
	if err := s.loadLocked(h); err != nil {
		return nil, Meta{}, err
	}
	if !h.exists {
		return nil, Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	var saved []byte
	if h.meta.LogStart < h.meta.LogNext {
		// compactLocked saves the document; read its snapshot back rather
		// than saving twice.
		if err := s.compactLocked(h); err != nil {
			s.log.Warn("compaction failed", "doc", id, "err", err)
			saved = h.doc.Save()
		} else if saved, err = s.snapshot(id); err != nil {
			return nil, Meta{}, err
		}
	}
	if len(saved) == 0 {
		saved = h.doc.Save()
	}
	m := h.publicMeta()
	if !wasLoaded {
		s.discardLocked(h)
	}
	return saved, m, nil
}

// snapshot reads a document's snapshot; nil if it has none.
func (s *Store) snapshot(id DocID) ([]byte, error) {
	v, closer, err := s.db.Get(snapshotKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// CreateFromSaved stores a document received whole (Save form: exactly one
// document chunk) under id, without loading it into Automerge. The bytes
// are framed and checksummed, and with Options.Verify set they are vetted
// as ApplyChanges vets foreign bytes: corrupt input returns an error
// wrapping ErrCorrupt and stores nothing. ErrExists if the id is taken.
func (s *Store) CreateFromSaved(ctx context.Context, id DocID, typ, collection string, saved []byte) (Meta, error) {
	return s.createFromSaved(ctx, id, typ, collection, saved, true)
}

// CreateFromVetted is CreateFromSaved for bytes the caller has already
// vetted (or trusts, per its policy): they are framed and checksummed but
// not handed to Options.Verify a second time. Sync uses it for documents
// its engine received and vetted.
func (s *Store) CreateFromVetted(ctx context.Context, id DocID, typ, collection string, saved []byte) (Meta, error) {
	return s.createFromSaved(ctx, id, typ, collection, saved, false)
}

func (s *Store) createFromSaved(ctx context.Context, id DocID, typ, collection string, saved []byte, vet bool) (Meta, error) {
	if id.IsZero() {
		return Meta{}, fmt.Errorf("%w: zero document id", ErrInvalid)
	}
	if err := validName("type", typ); err != nil {
		return Meta{}, err
	}
	if err := validName("collection", collection); err != nil {
		return Meta{}, err
	}
	heads, err := savedHeads(saved)
	if err != nil {
		return Meta{}, err
	}
	if vet && s.opts.Verify != nil {
		if err := s.opts.Verify(ctx, id, nil, saved); err != nil {
			return Meta{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	defer s.release(h)
	if h.loaded {
		if h.exists {
			return Meta{}, fmt.Errorf("document %s: %w", id, ErrExists)
		}
	} else {
		_, closer, err := s.db.Get(metaKey(id))
		if err == nil {
			closer.Close()
			return Meta{}, fmt.Errorf("document %s: %w", id, ErrExists)
		}
		if !errors.Is(err, pebble.ErrNotFound) {
			return Meta{}, err
		}
	}
	now := s.opts.Now().UTC()
	next := docMeta{Type: typ, Collection: collection, Created: now, Updated: now, Heads: heads, Changes: 1}
	seq := s.allocSeq(collection)
	next.Seq = seq
	b := s.db.NewBatch()
	b.Set(snapshotKey(id), saved, nil)
	b.Set(metaKey(id), next.encode(), nil)
	b.Set(timeIndexKey(prefixByUpdated, "", now, id), nil, nil)
	b.Set(timeIndexKey(prefixByType, typ, now, id), nil, nil)
	b.Set(timeIndexKey(prefixByCollection, collection, now, id), nil, nil)
	b.Set(seqKey(collection, seq), id[:], nil)
	err = b.Commit(pebble.Sync)
	b.Close()
	s.finishSeq(collection, seq)
	if err != nil {
		return Meta{}, fmt.Errorf("crdt: write %s: %w", id, err)
	}
	// The handle stays unloaded: the next reader loads the snapshot.
	h.loaded, h.doc = false, nil
	pm := handle{id: id, meta: next}
	m := pm.publicMeta()
	s.notify(m)
	return m, nil
}

// savedHeads checks that b is exactly one intact document chunk and returns
// the heads its header declares. Automerge's Load checks those against the
// changes it reconstructs, so a chunk that lies about them fails vetting.
func savedHeads(b []byte) ([]automerge.ChangeHash, error) {
	infos, err := parseChunks(b)
	if err != nil {
		return nil, err
	}
	if len(infos) != 1 || infos[0].Type != chunkDocument {
		return nil, fmt.Errorf("%w: saved bytes must be exactly one document chunk, got %d chunks", ErrCorrupt, len(infos))
	}
	hs, err := docHeads(b)
	if err != nil {
		return nil, fmt.Errorf("%w: document chunk: %v", ErrCorrupt, err)
	}
	return hs, nil
}

// docHeads reads the heads a document chunk's header declares.
func docHeads(chunk []byte) ([]automerge.ChangeHash, error) {
	hs, err := wire.DocumentHeads(chunk)
	if err != nil {
		return nil, err
	}
	out := make([]automerge.ChangeHash, len(hs))
	for i, h := range hs {
		out[i] = automerge.ChangeHash(h)
	}
	return out, nil
}
