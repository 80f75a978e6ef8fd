// Package syncserver is Outpost's hub: it accepts node and browser
// (automerge-repo) connections at /sync, authenticates them with tokens,
// and relays and stores documents, so that nodes that are never online at
// the same time still converge.
//
// It is wiring: a document store (crdt.Store on Pebble by default; any
// synclink.Store, such as a future SQL store for scaled-out servers), the
// token store, a synclink.Syncer holding every collection, the Automerge
// verifier, and an HTTP(S) listener. It must not run inference or make sync
// decisions of its own.
//
// Callers' duties:
//  1. Open with a Config, then Run until shutdown; Run closes the store.
//  2. Manage tokens with `outpost token` (which reaches a running server
//     through the admin socket in its data directory).
package syncserver
