package sync

import (
	"errors"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// ErrNotFound is what Storage returns (wrapped or not) for a document, sync
// state or cursor it does not have.
var ErrNotFound = errors.New("not found")

// ErrDamaged is what Storage.Load returns (wrapped) for a stored document
// that exists but cannot be loaded (its bytes no longer parse). The engine
// refuses that document on each connection instead of closing them: a
// reconnect would meet it again first, and nothing else would sync.
var ErrDamaged = errors.New("stored document is damaged")

// Meta is what the engine needs of a stored document's metadata.
type Meta struct {
	ID         string // bs58check document id
	Collection string
	Type       string
	Heads      []automerge.ChangeHash
	// Seq is the collection's change sequence number of the document's
	// latest change on this side.
	Seq uint64
}

// Storage is the engine's read-only view of the document store. Like etcd
// raft's Storage it is read synchronously from inside Step and Ready; all
// writes go out through Ready. Implementations must see every write the
// caller has made from earlier Readys.
type Storage interface {
	// Load returns a private copy of the document, which the engine keeps
	// and changes, and its metadata.
	Load(id string) (*automerge.Doc, Meta, error)
	// Saved returns the whole document in Save form and its metadata,
	// without a private copy: what a cold sync sends.
	Saved(id string) ([]byte, Meta, error)
	// Meta returns a document's metadata without its body.
	Meta(id string) (Meta, error)
	// ChangedSince lists documents of collection whose Seq is above after,
	// ascending by Seq, at most limit.
	ChangedSince(collection string, after uint64, limit int) ([]Meta, error)
	// SyncState returns the persisted sync state for a peer's storage id
	// and a document.
	SyncState(peer, id string) ([]byte, error)
	// Cursor returns the persisted cursor for a peer's storage id and a
	// collection: every document of that collection up to the peer's
	// sequence number Cursor is already here. 0 (and no error) if none.
	Cursor(peer, collection string) (uint64, error)
}

// Prefetcher is optionally implemented by a Storage that can prepare
// Saved results ahead, in parallel: a cold-sync scan announces the page of
// documents it is about to send whole.
type Prefetcher interface {
	PrefetchSaved(ids []string)
}

// ChangeLog is optionally implemented by a Storage that keeps documents'
// changes as a log and can move changes in and out of it without loading
// the document: with it, changes between Outpost peers that share a
// document take the fast-forward path (forward.go).
type ChangeLog interface {
	// ChangesSince returns the document's changes that are not ancestors
	// of heads, as change chunks in an order Automerge applies, and its
	// metadata. ok is false whenever the store cannot tell for certain
	// without loading the document; an empty raw with ok means the
	// document is at heads.
	ChangesSince(id string, heads []automerge.ChangeHash) (raw []byte, m Meta, ok bool, err error)
	// DocBytes returns what a load of the document reads (Save or
	// SaveIncremental chunks, concatenated), for vetting changes on top.
	DocBytes(id string) ([]byte, error)
}

// DocChange is a document write the caller must persist.
type DocChange struct {
	ID string
	// Create is set for a document new to this side; Collection and Type
	// are its store metadata and Data is the whole document (Save format).
	// Otherwise Data holds the new changes (SaveIncremental format).
	Create bool
	// Append is set for changes received on top of Base, the heads the
	// store had (ChangeLog): change chunks that each depend only on Base
	// or earlier chunks, vetted already, which a ChangeLog store appends
	// without loading the document. If the store's heads are no longer
	// Base (a local edit since), it applies Data as it applies any other
	// changes; the result is the same merge.
	Append     bool
	Base       []automerge.ChangeHash
	Collection string
	Type       string
	Data       []byte
	// Heads are the document's heads once Data is applied.
	Heads []automerge.ChangeHash
}

// SyncStateUpdate is a per-peer sync state to persist (automerge
// SyncState.Save bytes) under the peer's storage id.
type SyncStateUpdate struct {
	Peer  string // storage id
	ID    string
	State []byte
}

// CursorUpdate is a cursor to persist: every document of Collection up to
// the peer's sequence number Seq is stored here.
type CursorUpdate struct {
	Peer       string // storage id
	Collection string
	Seq        uint64
}

// Envelope is one message to send to one connected peer.
type Envelope struct {
	To  string // peer id
	Msg *wire.Message
}

// Rejection is a write or request the engine refused, for the caller's log.
type Rejection struct {
	Peer       string // peer id
	Doc        string
	Collection string
	Reason     string
}

// Closed is a peer the engine dropped after a protocol violation. The
// error message to it is already in Ready.Messages; the caller closes the
// connection after sending them.
type Closed struct {
	Peer   string
	Reason string
}

// Ready is the work the engine hands to its caller. Its order is the
// order of the duties, and it is what makes an acknowledged write durable
// before anyone hears of it:
//
//  1. Persist Changes (in order), then SyncStates and Cursors, and wait
//     until they are durable. A cursor may only be persisted after the
//     changes it covers, which is why Changes come first.
//  2. Send Messages, in order, each to its peer. They announce the heads
//     persisted in step 1.
//  3. Log Rejected and Declined; close the connections in Closed after
//     their messages are sent.
//  4. Call Advance.
//
// If persisting fails, nothing may be sent: drop the engine and its
// connections and start again from what the store holds.
type Ready struct {
	Changes    []DocChange
	SyncStates []SyncStateUpdate
	Cursors    []CursorUpdate
	Messages   []Envelope
	Rejected   []Rejection
	// Declined are documents we offered that a peer will not take (it
	// answered doc-unavailable; see refusal.go): they are not offered to
	// it again on this connection. Without a log line the sending side
	// would not know that a document stopped syncing.
	Declined []Rejection
	Closed   []Closed
}

// Empty reports whether there is nothing to do.
func (rd *Ready) Empty() bool {
	return len(rd.Changes) == 0 && len(rd.SyncStates) == 0 && len(rd.Cursors) == 0 &&
		len(rd.Messages) == 0 && len(rd.Rejected) == 0 && len(rd.Declined) == 0 && len(rd.Closed) == 0
}
