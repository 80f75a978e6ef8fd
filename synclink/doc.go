// Package synclink runs Outpost's sync over WebSocket: the one goroutine
// that owns the sync engine (crdt/sync), the connections it dials (with
// reconnects forever) and accepts (after checking the token), and the
// adapter that persists the engine's writes in the document store. Nodes
// and the sync server both use it; it is to crdt/sync what etcd's node.go is
// to raft's RawNode.
//
// It owns the automerge-repo WebSocket protocol's connection level: one
// binary frame per message, the join/peer handshake with protocol version
// "1", error messages before closing, keepalive pings. It must not make
// sync decisions (which documents, what access) — those are the engine's —
// nor know about HTTP routes beyond the one handler it serves.
//
// Callers' duties:
//  1. Build a Syncer with New over a Store (NewPebbleStore for crdt.Store),
//     and run Run in a goroutine for the Syncer's lifetime.
//  2. Mount Serve at the sync endpoint (/sync) of an HTTP server; with
//     Options.Tokens set it refuses connections without a valid token
//     (401, before the upgrade).
//  3. Call AddPeer for each server or peer to dial; it reconnects with
//     jittered exponential backoff until Run's context ends.
//  4. Read Status for status pages.
package synclink
