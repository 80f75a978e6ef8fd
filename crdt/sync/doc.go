// Package sync is Outpost's sync protocol engine: automerge-repo's document
// sync as a pure state machine, in the manner of etcd raft's RawNode.
//
// It owns, per connected peer and per document, the Automerge sync state
// and what Automerge's 2023 core (automerge-go) does not track: whether the
// peer takes whole compressed documents, whether it has nothing yet, which
// of its heads we lack; per peer, cursor scans and announced cursors; per
// document, forwarded requests. Its inputs are messages (Step), local
// changes (DocChanged), time (Tick) and flow control (Pause); its outputs
// are Ready: writes to persist and messages to send.
//
// Between Outpost peers it moves documents without Automerge where the
// exchange is determined anyway: whole documents to a peer that has none
// (fast.go) and, with a Storage that is a ChangeLog, the changes of a
// shared document since the heads both sides agreed on (forward.go).
//
// It must not do I/O of its own: no sockets, goroutines, wall clock or
// logging (dependency_test.go enforces the imports). Storage is read through
// the Storage interface, synchronously, like raft's Storage; everything it
// writes goes out in Ready.
//
// Access control is enforced here, so that every transport gets it: a
// document of a collection a peer is not granted is never sent to it,
// requests for one are answered doc-unavailable exactly as for a missing
// document, writes to one are refused and reported in Ready.Rejected, and
// ephemeral messages about it are dropped.
//
// What a peer sends is refused per document or per connection, by what the
// fault is about (refusal.go has the reasoning):
//
//   - Per document, the connection goes on: a document whose content is
//     refused (Config.Verify refused its bytes, its change chunks are
//     corrupt, Automerge cannot apply them). It is reported in
//     Ready.Rejected, answered doc-unavailable, and out of the connection
//     in both directions; the side that offered it reports it in
//     Ready.Declined and stops offering it, for that connection only.
//     Cursors settle past it, so that it does not hold back the rest: it
//     is offered again when it next changes after that connection, or on
//     a full resync.
//   - Per connection (Step returns an error, the peer is in Ready.Closed):
//     a broken peer or a failing store. A frame that does not decode (the
//     caller's codec), a senderId that is not the peer's, a sync message
//     that does not parse or that Automerge's sync code rejects, a store
//     read that fails.
//
// The caller's duties:
//
//  1. Complete the join/peer handshake (with Metadata as ours), then
//     AddPeer with the peer's metadata and grants; RemovePeer when the
//     connection ends.
//  2. Feed every decoded message to Step; after an error the engine has
//     dropped the peer and the caller closes the connection once the
//     queued error message is sent. A frame that does not decode is the
//     caller's to refuse the same way.
//  3. Forward every store change notification to DocChanged, after the
//     write is durable.
//  4. Call Tick periodically (the engine's only notion of time), and Pause
//     a peer whose send queue is long.
//  5. Whenever HasReady: take Ready, persist its Changes (a ChangeLog
//     store appends those marked Append without loading the document),
//     then SyncStates and Cursors, then send its Messages, log Rejected
//     and Declined, then close the peers in Closed, then call Advance (see
//     Ready). If persisting fails, send nothing and start a new engine.
//
// An Engine is not safe for concurrent use.
package sync
