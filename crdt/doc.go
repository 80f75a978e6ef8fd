// Package crdt owns Outpost's documents: Automerge documents (automerge-go)
// kept in a Pebble store as an append-only change log per document, folded
// into snapshots as it grows, with metadata, secondary indexes (type,
// collection, update time), a per-collection change sequence that sync uses
// as a cursor, per-peer sync state, and content-addressed blobs.
//
// It must not know about HTTP, models or jobs. Subpackages hold the sync
// protocol (wire) and the sync engine (sync), which are pure: no sockets.
//
// Caller's duties:
//  1. Open one Store per data directory; a second Open of the same directory
//     fails with ErrLocked rather than waiting.
//  2. Change documents only inside Create/Update callbacks; a Doc passed to
//     a callback must not be kept after it returns.
//  3. Treat every write as durable once it returns: it has been synced.
//  4. Pass foreign bytes through ApplyChanges (or Update with LoadIncremental
//     after validating), never Doc.Apply, which goes quadratic in
//     automerge-go.
//  5. Keep other data in the same Pebble only under the Prefix* bytes
//     reserved in keys.go.
//  6. Close the Store on shutdown.
package crdt
