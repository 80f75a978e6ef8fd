package synclink

import (
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/cockroachdb/pebble/v2"

	"github.com/outposthq/outpost/crdt"
)

// identityKey holds this data directory's storage id: 'y' 'i'.
var identityKey = []byte{crdt.PrefixSync, 'i'}

// StorageID returns the data directory's durable sync identity, creating
// it on first use. Peers key the sync state they keep about us by it, so it
// must survive restarts and differ between data directories.
func StorageID(db *pebble.DB) (string, error) {
	v, closer, err := db.Get(identityKey)
	if err == nil {
		id := string(v)
		closer.Close()
		return id, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := "outpost-" + hex.EncodeToString(b[:])
	if err := db.Set(identityKey, []byte(id), pebble.Sync); err != nil {
		return "", err
	}
	return id, nil
}
