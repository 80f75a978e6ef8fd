package crdt

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Compaction folds a document's change log into its snapshot: Save() of the
// whole document (which keeps every change, so history survives) replaces
// the snapshot and the folded log entries are deleted, in one batch. The
// batch need not be synced: before and after it the disk holds the same
// changes, so a crash that loses it loses nothing.

func (s *Store) needsCompaction(m docMeta) bool {
	n := m.LogNext - m.LogStart
	return n >= uint64(s.opts.CompactChanges) || (n > 1 && m.LogBytes >= uint64(s.opts.CompactBytes))
}

// Compact folds the document's log into its snapshot now.
func (s *Store) Compact(ctx context.Context, id DocID) error {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer s.release(h)
	if err := s.loadLocked(h); err != nil {
		return err
	}
	if !h.exists {
		return fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	if h.meta.LogNext == h.meta.LogStart {
		return nil
	}
	return s.compactLocked(h)
}

func (s *Store) compactLocked(h *handle) error {
	snap := h.doc.Save()
	next := h.meta
	next.LogStart = next.LogNext
	next.LogBytes = 0
	b := s.db.NewBatch()
	defer b.Close()
	b.Set(snapshotKey(h.id), snap, nil)
	// Point deletes, not DeleteRange: every read of a memtable holding
	// range tombstones re-fragments all of them once a new one arrives,
	// which made a cold sync's compactions quadratic.
	for i := h.meta.LogStart; i < h.meta.LogNext; i++ {
		b.Delete(logKey(h.id, i), nil)
	}
	b.Set(metaKey(h.id), next.encode(), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	h.meta = next
	return nil
}
