package crdt

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// PutSyncState durably records what the sync engine knows about a peer's
// copy of a document, so a reconnect resumes instead of starting over.
func (s *Store) PutSyncState(ctx context.Context, peer string, id DocID, state []byte) error {
	if err := validName("peer", peer); err != nil {
		return err
	}
	return s.db.Set(syncStateKey(peer, id), state, pebble.Sync)
}

// SyncStateEntry is one peer's sync state for one document.
type SyncStateEntry struct {
	Peer  string
	ID    DocID
	State []byte
}

// PutSyncStates is PutSyncState for many states in one synced batch: a
// cold sync persists one per document per page.
func (s *Store) PutSyncStates(ctx context.Context, states []SyncStateEntry) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range states {
		if err := validName("peer", e.Peer); err != nil {
			return err
		}
		b.Set(syncStateKey(e.Peer, e.ID), e.State, nil)
	}
	return b.Commit(pebble.Sync)
}

// SyncState returns what PutSyncState stored, or ErrNotFound.
func (s *Store) SyncState(ctx context.Context, peer string, id DocID) ([]byte, error) {
	if err := validName("peer", peer); err != nil {
		return nil, err
	}
	v, closer, err := s.db.Get(syncStateKey(peer, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("sync state %s/%s: %w", peer, id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// DeleteSyncStates forgets everything recorded about a peer.
func (s *Store) DeleteSyncStates(ctx context.Context, peer string) error {
	if err := validName("peer", peer); err != nil {
		return err
	}
	p := append([]byte{prefixSyncState}, peer...)
	p = append(p, 0)
	return s.db.DeleteRange(p, prefixEnd(p), pebble.Sync)
}
