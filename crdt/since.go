package crdt

import (
	"context"

	"errors"
	"fmt"
	"slices"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"

	"github.com/outposthq/outpost/crdt/wire"
)

// Changes in and out of the log without Automerge.
//
// A reconnect exchanges the few changes each side made since the two last
// agreed. Both ends of that exchange are in the store's own terms already:
// the sender's new changes are the last entries of its log (raw change
// chunks, one entry per write), and the receiver's store appends them as a
// new log entry. Loading the document into automerge-go to compute or to
// apply them (about a millisecond and a half for a note) is what made a
// reconnect cost milliseconds per document, so ChangesSince and
// AppendVetted do both from the chunks' hashes and dependencies, read in Go
// (chunks.go), and answer "not certain" whenever the log alone cannot tell.
//
// Invariants kept here as in write.go:
//   - ChangesSince never guesses: ok is true only if every change of the
//     document that is not an ancestor of the given heads is in the log,
//     proven by walking dependencies from those heads to every head of the
//     snapshot.
//   - AppendVetted appends only changes whose dependencies are the
//     document's heads or earlier appended changes, so the heads it records
//     are exactly what Automerge would compute, and a later load yields the
//     same document; the write is one synced batch as in write.
//   - Neither loads a document that was not loaded; a loaded document takes
//     the ordinary paths (its in-memory copy answers, or is updated).

// ErrHeadsMoved is returned by AppendVetted when the document's heads are no
// longer the base the changes were checked against.
var ErrHeadsMoved = errors.New("document heads moved")

// ChangesSince returns the raw change chunks of document id that are not
// ancestors of heads (a peer's heads), in an order Automerge applies, with
// the document's metadata. ok is false when the store cannot say for
// certain without loading the document: heads folded into the snapshot, a
// head the document lacks, a dependency on the inside of the snapshot. An
// empty raw with ok means the document is at heads.
func (s *Store) ChangesSince(ctx context.Context, id DocID, heads []automerge.ChangeHash) (raw []byte, m Meta, ok bool, err error) {
	if len(heads) == 0 {
		return nil, Meta{}, false, nil
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return nil, Meta{}, false, err
	}
	defer s.release(h)
	if h.loaded {
		if !h.exists {
			return nil, Meta{}, false, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		// The in-memory copy answers exactly and cheaply.
		for _, x := range heads {
			if _, err := h.doc.Change(x); err != nil {
				return nil, h.publicMeta(), false, nil
			}
		}
		chs, err := h.doc.Changes(heads...)
		if err != nil {
			return nil, h.publicMeta(), false, nil
		}
		if len(chs) == 0 {
			return nil, h.publicMeta(), true, nil
		}
		return automerge.SaveChanges(chs), h.publicMeta(), true, nil
	}
	meta, err := s.diskMeta(id)
	if err != nil {
		return nil, Meta{}, false, err
	}
	pm := handle{id: id, meta: meta}
	m = pm.publicMeta()
	if SameHeads(meta.Heads, heads) {
		return nil, m, true, nil
	}
	if meta.LogStart == meta.LogNext {
		return nil, m, false, nil // everything is in the snapshot
	}
	snapHeads, err := s.snapshotHeads(id)
	if err != nil {
		return nil, m, false, err
	}
	log, err := s.logChanges(id, meta)
	if err != nil {
		return nil, m, false, err
	}
	byHash := make(map[automerge.ChangeHash]int, len(log))
	for i, c := range log {
		if _, dup := byHash[c.hash]; !dup {
			byHash[c.hash] = i
		}
	}
	isSnapHead := make(map[automerge.ChangeHash]bool, len(snapHeads))
	for _, x := range snapHeads {
		isSnapHead[x] = true
	}
	// Walk the ancestry of heads through the log. Reaching a snapshot head
	// covers the whole snapshot below it; anything else outside the log is
	// inside the snapshot (or unknown), where the walk cannot go.
	anc := map[automerge.ChangeHash]bool{}
	reached := 0
	stack := slices.Clone(heads)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if anc[x] {
			continue
		}
		anc[x] = true
		if i, ok := byHash[x]; ok {
			stack = append(stack, log[i].deps...)
			continue
		}
		if !isSnapHead[x] {
			return nil, m, false, nil
		}
		reached++
	}
	if reached != len(isSnapHead) {
		return nil, m, false, nil // part of the snapshot is new to the peer
	}
	seen := map[automerge.ChangeHash]bool{}
	for _, c := range log {
		if anc[c.hash] || seen[c.hash] {
			continue
		}
		seen[c.hash] = true
		raw = append(raw, c.Raw...)
	}
	return raw, m, true, nil
}

// AppendVetted appends change chunks (already vetted, or trusted per the
// caller's policy) to document id's log without loading it, provided the
// document's heads are base and every change depends only on heads in base
// or on changes earlier in raw. It returns ErrHeadsMoved if the heads are
// not base, an error wrapping ErrCorrupt for bad framing or checksums, and
// ErrMissingDeps for changes the rule above does not admit; in every case
// nothing is written. A document loaded in memory takes Update instead,
// which merges whatever its heads are.
func (s *Store) AppendVetted(ctx context.Context, id DocID, raw []byte, base []automerge.ChangeHash) (Meta, error) {
	chunks, err := splitChunks(raw)
	if err != nil {
		return Meta{}, err
	}
	for _, c := range chunks {
		if c.Type == chunkDocument {
			return Meta{}, fmt.Errorf("%w: a document chunk cannot be appended", ErrCorrupt)
		}
	}
	h, err := s.acquire(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	if h.loaded {
		exists := h.exists
		s.release(h)
		if !exists {
			return Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		return s.Update(ctx, id, "", func(doc *automerge.Doc) error {
			if err := checkDeps(doc, chunksOf(chunks)); err != nil {
				return err
			}
			return doc.LoadIncremental(raw)
		})
	}
	defer s.release(h)
	prev, err := s.diskMeta(id)
	if err != nil {
		return Meta{}, err
	}
	if !SameHeads(prev.Heads, base) {
		return Meta{}, fmt.Errorf("document %s: %w", id, ErrHeadsMoved)
	}
	heads, err := headsAfter(prev.Heads, chunks)
	if err != nil {
		return Meta{}, fmt.Errorf("document %s: %w", id, err)
	}
	now := s.opts.Now().UTC()
	next, err := s.commitLocked(id, prev, heads, raw, now, false)
	if err != nil {
		return Meta{}, err
	}
	pm := handle{id: id, meta: next}
	m := pm.publicMeta()
	s.notify(m)
	if s.needsCompaction(next) {
		// Rare (a thousand writes or megabytes): fold as write does.
		if err := s.loadLocked(h); err == nil {
			if err := s.compactLocked(h); err != nil {
				s.log.Warn("compaction failed", "doc", id, "err", err)
			}
		}
		s.discardLocked(h)
	}
	return m, nil
}

// DocBytes returns the bytes a load of document id reads (its snapshot
// followed by its live log entries) and its metadata, without loading it.
func (s *Store) DocBytes(ctx context.Context, id DocID) ([]byte, Meta, error) {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return nil, Meta{}, err
	}
	defer s.release(h)
	meta, err := s.diskMeta(id)
	if err != nil {
		return nil, Meta{}, err
	}
	if h.loaded && !h.exists {
		return nil, Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	data, err := s.readDocBytes(id, meta)
	if err != nil {
		return nil, Meta{}, err
	}
	pm := handle{id: id, meta: meta}
	return data, pm.publicMeta(), nil
}

// headsAfter computes the heads once chunks are applied to a document at
// heads (see wire.HeadsAfter for when that is certain).
func headsAfter(heads []automerge.ChangeHash, chunks []logChange) ([]automerge.ChangeHash, error) {
	base := make([]wire.Hash, len(heads))
	for i, h := range heads {
		base[i] = wire.Hash(h)
	}
	hs, err := wire.HeadsAfter(base, chunksOf(chunks))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMissingDeps, err)
	}
	out := make([]automerge.ChangeHash, len(hs))
	for i, h := range hs {
		out[i] = automerge.ChangeHash(h)
	}
	return out, nil
}

// logChange is one chunk of a log entry, with its hashes in automerge's
// type.
type logChange struct {
	wire.Chunk
	hash automerge.ChangeHash
	deps []automerge.ChangeHash
}

func chunksOf(cs []logChange) []wire.Chunk {
	out := make([]wire.Chunk, len(cs))
	for i, c := range cs {
		out[i] = c.Chunk
	}
	return out
}

// splitChunks frames, checksums and describes the chunks of b, keeping
// each chunk's bytes.
func splitChunks(b []byte) ([]logChange, error) {
	cs, err := parseChunks(b)
	if err != nil {
		return nil, err
	}
	out := make([]logChange, len(cs))
	for i, c := range cs {
		out[i] = logChange{Chunk: c, hash: automerge.ChangeHash(c.Hash)}
		for _, d := range c.Deps {
			out[i].deps = append(out[i].deps, automerge.ChangeHash(d))
		}
	}
	return out, nil
}

// logChanges reads and describes the live log entries of a document.
func (s *Store) logChanges(id DocID, meta docMeta) ([]logChange, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(id, meta.LogStart),
		UpperBound: logKey(id, meta.LogNext),
	})
	if err != nil {
		return nil, err
	}
	var out []logChange
	for it.First(); it.Valid(); it.Next() {
		cs, err := splitChunks(append([]byte(nil), it.Value()...))
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("crdt: log of %s: %w", id, err)
		}
		out = append(out, cs...)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// snapshotHeads reads the heads in the header of a document's snapshot;
// none if it has no snapshot.
func (s *Store) snapshotHeads(id DocID) ([]automerge.ChangeHash, error) {
	v, err := s.snapshot(id)
	if err != nil || v == nil {
		return nil, err
	}
	hs, err := docHeads(v)
	if err != nil {
		return nil, fmt.Errorf("crdt: snapshot of %s: %w: %v", id, ErrCorrupt, err)
	}
	return hs, nil
}

// diskMeta reads a document's metadata from Pebble.
func (s *Store) diskMeta(id DocID) (docMeta, error) {
	raw, closer, err := s.db.Get(metaKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return docMeta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return docMeta{}, err
	}
	defer closer.Close()
	m, err := decodeMeta(raw)
	if err != nil {
		return docMeta{}, fmt.Errorf("crdt: document %s: %w", id, err)
	}
	return m, nil
}
