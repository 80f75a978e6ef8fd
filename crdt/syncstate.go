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
