package sync

import (
	"errors"

	"fmt"
	"github.com/automerge/automerge-go"
	"slices"

	"github.com/outposthq/outpost/crdt/wire"
)

// Config configures an Engine.
type Config struct {
	// PeerID is this side's automerge-repo peer id (senderId of everything
	// it sends).
	PeerID string
	// StorageID is announced in peerMetadata so that peers persist their
	// sync state with us; empty makes this side ephemeral.
	StorageID string
	// Name is announced to Outpost peers (status pages, logs).
	Name string
	// Collections this side holds and syncs. Nil holds every collection
	// (a sync server). Documents of other collections are refused.
	Collections []string
	// Storage is read synchronously by Step and Ready.
	Storage Storage
	// Verify, if set, vets the Automerge chunks peer sends before they are
	// applied to base (the engine's copy of document id; nil for a new
	// document): automerge-go's Rust core aborts the process on some
	// malformed input, so nodes and servers pass crdt/verify's
	// Verifier.Chunks. Called synchronously from Step.
	Verify func(peer, id string, base *automerge.Doc, chunks []byte) error
	// RequestTimeout is how many ticks a request we forwarded to other
	// peers may stay unanswered before the requester is told
	// doc-unavailable. Default 20.
	RequestTimeout int
	// ScanPage is how many documents a cursor scan offers per Ready, so
	// that a cold sync of 100,000 documents does not build one Ready of
	// 100,000 messages (see also Pause). Default 256.
	ScanPage int
	// DocCache is how many documents the engine keeps loaded between
	// messages. A loaded automerge-go document of a few dozen changes
	// takes hundreds of kilobytes of C memory. Default 128.
	DocCache int
	// DefaultType is the store type given to documents created by plain
	// automerge-repo clients whose root has no string field "type".
	// Default "doc".
	DefaultType string
}

// PeerInfo describes a connected peer after the join/peer handshake.
type PeerInfo struct {
	ID       string
	Metadata *wire.PeerMetadata
	// Grants are the collections the peer may read and write; "*" grants
	// all. For a peer that authenticated with a token these are the
	// token's collections; for a peer we dialed they are our own.
	Grants []string
	// Trusted: the caller does not vet this peer's bytes (Config.Verify
	// passes them), so the engine need not prepare anything for vetting.
	Trusted bool
}

// Engine is the sync protocol as a state machine: messages and local
// changes in, messages and writes out (see Ready). It is not safe for
// concurrent use; one goroutine owns it.
type Engine struct {
	cfg   Config
	peers map[string]*peer
	docs  map[string]*docState
	tick  uint64

	// dirty lists sessions whose next sync message is due, in the order
	// they became due, so that output is deterministic.
	dirty []*session
	// changed lists documents with changes for the next Ready; touched
	// sessions whose sync state may need persisting. Ready never walks
	// every document: a server holds far more than one round touches.
	changed []*docState
	touched []*session
	// useClock orders working copies for eviction.
	useClock uint64
	// loads counts working copies made (see Loads).
	loads uint64
	// loaded holds the documents with a working copy; sweepAt is the
	// document count at which evict next forgets idle documents.
	loaded  map[*docState]struct{}
	sweepAt int
	// asking indexes documents with a forwarded request, for Tick.
	asking map[string]*docState
	// ephSeen is the last count relayed per ephemeral sender session.
	ephSeen map[string]uint64

	rd Ready
}

var (
	capsBoth = []byte{wire.CapMessageV1, wire.CapMessageV2}
)

// New returns an engine with no peers.
func New(cfg Config) (*Engine, error) {
	if cfg.PeerID == "" {
		return nil, errors.New("sync: Config.PeerID is empty")
	}
	if cfg.Storage == nil {
		return nil, errors.New("sync: Config.Storage is nil")
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 20
	}
	if cfg.ScanPage <= 0 {
		cfg.ScanPage = 256
	}
	if cfg.DocCache <= 0 {
		cfg.DocCache = 128
	}
	if cfg.DefaultType == "" {
		cfg.DefaultType = "doc"
	}
	return &Engine{cfg: cfg, peers: map[string]*peer{}, docs: map[string]*docState{}, ephSeen: map[string]uint64{}, loaded: map[*docState]struct{}{}, sweepAt: 1024, asking: map[string]*docState{}}, nil
}

// Metadata is what this side announces in its join or peer message.
func (e *Engine) Metadata() *wire.PeerMetadata {
	return &wire.PeerMetadata{
		StorageID:   e.cfg.StorageID,
		IsEphemeral: e.cfg.StorageID == "",
		Outpost: &wire.OutpostMeta{
			Version:     wire.OutpostVersion,
			Collections: slices.Clone(e.cfg.Collections),
			Name:        e.cfg.Name,
		},
	}
}

// holds reports whether this side keeps documents of collection c.
func (e *Engine) holds(c string) bool {
	return e.cfg.Collections == nil || slices.Contains(e.cfg.Collections, c)
}

// AddPeer registers a peer whose handshake is done. A peer with the same id
// replaces the old one, as automerge-repo's server adapter does.
func (e *Engine) AddPeer(info PeerInfo) {
	if _, ok := e.peers[info.ID]; ok {
		e.RemovePeer(info.ID)
	}
	p := newPeer(info)
	e.peers[p.id] = p
	if p.outpost == nil {
		return
	}
	// Ask the peer for what changed since our cursor, per shared collection.
	for _, c := range e.sharedCollections(p) {
		cur, err := e.cfg.Storage.Cursor(p.storageKey(), c)
		if err != nil && !errors.Is(err, ErrNotFound) {
			cur = 0 // a lost cursor costs a full scan, never a missed document
		}
		empty := false
		if e.holds(c) {
			ms, err := e.cfg.Storage.ChangedSince(c, 0, 1)
			empty = err == nil && len(ms) == 0
		}
		e.send(p, &wire.Message{Type: wire.TypeOutpostSince, Collection: c, Seq: cur, Empty: empty})
	}
}

// RemovePeer forgets a disconnected peer and its sessions. Persisted sync
// states and cursors stay in the store for its next connection.
func (e *Engine) RemovePeer(id string) {
	p, ok := e.peers[id]
	if !ok {
		return
	}
	delete(e.peers, id)
	for docID := range p.sessions {
		d := e.docs[docID]
		if d == nil {
			continue
		}
		delete(d.sessions, id)
		if d.ask != nil {
			delete(d.ask.waiting, id)
			delete(d.ask.requesters, id)
			e.checkAsk(d)
		}
		e.maybeDropPending(d)
	}
	p.sessions = nil
	p.gone = true
}

// Step feeds one message received from peer from. An error means the peer
// broke the protocol (or the store failed while handling it): the engine
// has already queued an error message for it and listed it in
// Ready.Closed, and dropped it. A document whose content is refused is not
// an error: it is reported in Ready.Rejected and the connection goes on
// (refusal.go).
func (e *Engine) Step(from string, m *wire.Message) error {
	p, ok := e.peers[from]
	if !ok {
		return fmt.Errorf("sync: message from unknown peer %q", from)
	}
	if m.SenderID != "" && m.SenderID != p.id && m.Type != wire.TypeEphemeral {
		return e.violation(p, fmt.Errorf("senderId %q on a connection of peer %q", m.SenderID, p.id))
	}
	var err error
	switch m.Type {
	case wire.TypeSync, wire.TypeRequest:
		err = e.stepSync(p, m)
		if r, ok := asRefusal(err); ok {
			// One document's content: refuse it, keep the connection.
			coll := ""
			if m.Doc != nil {
				coll = m.Doc.Collection
			}
			e.refuseContent(p, r.doc, coll, r.err)
			err = nil
		}
	case wire.TypeDocUnavailable:
		e.stepUnavailable(p, m)
	case wire.TypeEphemeral:
		e.stepEphemeral(p, m)
	case wire.TypeOutpostSince:
		e.stepSince(p, m)
	case wire.TypeOutpostCursor:
		e.stepCursor(p, m)
	case wire.TypeError:
		// The peer is about to close; nothing to answer.
	default:
		// join/peer after the handshake, remote-heads gossip and unknown
		// types are ignored, as automerge-repo ignores what it does not use.
	}
	if err != nil {
		return e.violation(p, err)
	}
	return nil
}

func (e *Engine) violation(p *peer, err error) error {
	e.send(p, &wire.Message{Type: wire.TypeError, ErrorText: err.Error()})
	e.rd.Closed = append(e.rd.Closed, Closed{Peer: p.id, Reason: err.Error()})
	e.RemovePeer(p.id)
	return err
}

// Tick advances the engine's clock by one tick: forwarded requests time
// out after Config.RequestTimeout ticks.
func (e *Engine) Tick() {
	e.tick++
	for _, id := range sortedKeys(e.asking) {
		d := e.asking[id]
		if d.ask != nil && e.tick >= d.ask.deadline {
			d.ask.waiting = map[string]bool{}
			e.checkAsk(d)
		}
	}
}

// HasReady reports whether Ready would return anything.
func (e *Engine) HasReady() bool {
	if !e.rd.Empty() || len(e.dirty) > 0 || len(e.changed) > 0 || len(e.touched) > 0 {
		return true
	}
	for _, p := range e.peers {
		if p.scanDue() || len(p.cursorDue) > 0 || p.cursorWaitsDue() {
			return true
		}
	}
	return false
}

// Ready returns the pending work. The caller must handle it as Ready's doc
// comment says and then call Advance before calling Ready again.
func (e *Engine) Ready() Ready {
	for _, id := range sortedKeys(e.peers) {
		e.continueScans(e.peers[id])
	}
	e.flushDirty()
	for _, id := range sortedKeys(e.peers) {
		e.flushCursors(e.peers[id])
	}
	for _, d := range e.changed {
		if d.unsaved && d.known && (d.doc != nil || d.createData != nil || d.appendData != nil) {
			c, err := d.takeChange()
			if err != nil {
				// Our own working copy failed us: resync it from the store.
				e.discardCopy(d)
				continue
			}
			e.rd.Changes = append(e.rd.Changes, c)
		}
	}
	e.changed = nil
	for _, s := range e.touched {
		if u, ok := s.stateUpdate(); ok {
			e.rd.SyncStates = append(e.rd.SyncStates, u)
		}
	}
	e.touched = nil
	for _, id := range sortedKeys(e.peers) {
		e.settleCursors(e.peers[id])
	}
	return e.rd
}

// Advance acknowledges the last Ready: its writes are durable and its
// messages sent.
func (e *Engine) Advance() {
	e.rd = Ready{}
	e.evict()
}

// Loads is how many Automerge documents the engine has loaded. Their
// memory lives in Automerge's C heap, where Go's garbage collector does not
// see it grow: callers use this count to decide when to collect.
func (e *Engine) Loads() uint64 { return e.loads }

// PeerStatus summarises one connected peer for status pages.
type PeerStatus struct {
	ID        string
	StorageID string
	Name      string
	Outpost   bool
	// Docs is the number of documents synced with the peer in this
	// connection; Pending those not yet in sync (we lack their heads or
	// await their answer) plus documents still to be offered by scans.
	Docs    int
	Pending int
}

// Status reports every connected peer, sorted by id.
func (e *Engine) Status() []PeerStatus {
	var out []PeerStatus
	for _, id := range sortedKeys(e.peers) {
		p := e.peers[id]
		st := PeerStatus{ID: p.id, StorageID: p.storageID, Outpost: p.outpost != nil, Docs: len(p.sessions)}
		if p.outpost != nil {
			st.Name = p.outpost.Name
		}
		st.Pending = len(p.missing) + p.awaiting
		for _, sc := range p.scans {
			if !sc.done {
				st.Pending++ // at least one more document to offer
			}
		}
		out = append(out, st)
	}
	return out
}

func (e *Engine) send(p *peer, m *wire.Message) {
	m.SenderID = e.cfg.PeerID
	m.TargetID = p.id
	e.rd.Messages = append(e.rd.Messages, Envelope{To: p.id, Msg: m})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
