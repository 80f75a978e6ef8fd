package sync

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// session is the sync of one document with one peer: Automerge's sync
// state plus what Automerge's 2023 core does not track for us.
type session struct {
	d *docState
	p *peer
	// ss is created when the document is first loaded for this session,
	// from state (persisted, or set by a whole-document exchange) if any.
	ss    *automerge.SyncState
	state []byte
	// fastHeads: we sent the peer the whole document outside Automerge's
	// sync code (a cold sync) and await its acknowledgement of these heads.
	fastHeads []wire.Hash
	// forward: fastHeads are from changes sent on top of the shared heads
	// (forward.go); state still holds those shared heads.
	forward bool
	// persistNext is a state to persist that no ss holds yet.
	persistNext []byte
	// agreed: both sides have announced these heads to each other and ss
	// was never needed (a whole-document exchange). While the document
	// stays at them there is nothing to say, and no reason to load it.
	agreed []wire.Hash
	// persisted is the state last persisted (or loaded); a state is
	// persisted again only when it differs.
	persisted []byte
	// fresh: no persisted state was found, this is a first sync.
	fresh bool
	// heard: the peer has sent at least one message about the document.
	heard bool
	// theirV2: the peer's sync messages advertise v2 messages, so its core
	// applies a chunk holding a whole document.
	theirV2 bool
	// theirEmpty: the peer's last message had no heads: it has nothing.
	theirEmpty bool
	// missing: the peer's last heads include changes we do not have.
	missing bool
	// awaiting: we sent a message the peer has not answered (status only).
	awaiting bool
	dirty    bool
	touched  bool
}

// session returns (creating it, with its persisted state, if needed) the
// session of document d with peer p. The document is not loaded.
func (e *Engine) session(d *docState, p *peer) (*session, error) {
	if s := d.sessions[p.id]; s != nil {
		return s, nil
	}
	s := &session{d: d, p: p}
	if p.storageID != "" && d.known {
		raw, err := e.cfg.Storage.SyncState(p.storageID, d.id)
		switch {
		case err == nil:
			s.state, s.persisted = raw, raw
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("sync: loading sync state of %s for %s: %w", d.id, p.storageID, err)
		}
	}
	s.fresh = s.state == nil
	d.sessions[p.id] = s
	p.sessions[d.id] = s
	return s, nil
}

// inAgreement reports whether, without loading anything, the peer is
// known to hold exactly heads: both sides announced them (agreed) or the
// persisted state's shared heads are them.
func (s *session) inAgreement(heads []automerge.ChangeHash) bool {
	if s.ss != nil || s.dirty {
		return false
	}
	if s.agreed == nil && s.state != nil {
		if shared, err := wire.DecodeSyncState(s.state); err == nil && len(shared) > 0 {
			s.agreed = shared
		}
	}
	return s.agreed != nil && SameAsHashes(heads, s.agreed)
}

// syncState returns the session's Automerge sync state bound to doc.
func (s *session) syncState(doc *automerge.Doc) *automerge.SyncState {
	if s.ss == nil && s.state != nil {
		if ss, err := automerge.LoadSyncState(doc, s.state); err == nil {
			s.ss = ss
		}
	}
	if s.ss == nil {
		s.ss = automerge.NewSyncState(doc)
	}
	s.ss.Doc = doc
	return s.ss
}

// unbind lets a working copy be freed while the session lives on.
func (s *session) unbind() {
	if s.ss != nil {
		s.ss.Doc = nil
	}
}

func (s *session) setMissing(v bool) {
	if s.missing == v {
		return
	}
	s.missing = v
	if v {
		s.p.missing[s.d.id] = true
	} else {
		delete(s.p.missing, s.d.id)
	}
}

func (s *session) setAwaiting(v bool) {
	if s.awaiting == v {
		return
	}
	s.awaiting = v
	if v {
		s.p.awaiting++
	} else {
		s.p.awaiting--
	}
}

func (e *Engine) dropSession(s *session) {
	s.setMissing(false)
	s.setAwaiting(false)
	delete(s.d.sessions, s.p.id)
	delete(s.p.sessions, s.d.id)
	s.p = &peer{gone: true} // a queued dirty entry must not send
}

func (e *Engine) markDirty(s *session) {
	if !s.dirty {
		s.dirty = true
		e.dirty = append(e.dirty, s)
	}
}

func (e *Engine) touch(s *session) {
	if !s.touched {
		s.touched = true
		e.touched = append(e.touched, s)
	}
}

// flushDirty generates the due sync messages, in the order they became due.
func (e *Engine) flushDirty() {
	for len(e.dirty) > 0 {
		batch := e.dirty
		e.dirty = nil
		for _, s := range batch {
			s.dirty = false
			if s.p.gone {
				continue
			}
			err := e.generate(s)
			if r, ok := asRefusal(err); ok {
				// Our copy cannot be offered (ErrDamaged): refuse the
				// document on this connection, keep the rest syncing.
				e.refuseContent(s.p, r.doc, "", r.err)
			} else if err != nil {
				e.violation(s.p, err)
			}
		}
	}
}

// generate asks Automerge for the session's next sync message and sends
// it, in compact form where the peer can take it.
func (e *Engine) generate(s *session) error {
	d, p := s.d, s.p
	if d.known && !p.allowed(d.meta.Collection) {
		return nil // never send a document of a collection not granted
	}
	if p.excluded(d.id) {
		return nil // refused by one side for this connection (refusal.go)
	}
	if s.ss == nil && s.agreed != nil && d.doc == nil && SameAsHashes(d.meta.Heads, s.agreed) {
		return nil
	}
	if done, err := e.forwardSend(s); done || err != nil {
		return err
	}
	doc, err := e.load(d)
	if err != nil {
		return err
	}
	msg, ok := s.syncState(doc).GenerateMessage()
	if !ok {
		return nil
	}
	data := e.compact(d, s, msg.Bytes())
	typ := wire.TypeSync
	if !d.known && !s.heard {
		typ = wire.TypeRequest
	}
	m := &wire.Message{Type: typ, DocumentID: d.id, Data: data}
	if p.outpost != nil && d.known && (!s.heard || s.theirEmpty) {
		// Only a peer that may not have the document needs its metadata.
		m.Doc = &wire.DocInfo{Collection: d.meta.Collection, Type: d.meta.Type}
	}
	e.send(p, m)
	s.setAwaiting(true)
	return nil
}

// compactMin is the size of changes below which a whole document is not
// even considered instead: saving costs more than it can win.
const compactMin = 1024

// compact rewrites a sync message from automerge-go's core: it advertises
// that we take v2 messages, and to a peer whose core applies whole
// documents it sends the document's compressed saved form instead of its
// changes, when the peer has nothing or the changes are larger. This is
// what current JavaScript Automerge does on a first sync and what the 2023
// core lacks (it sends every change, 4-5x the bytes).
func (e *Engine) compact(d *docState, s *session, data []byte) []byte {
	pm, err := wire.ParseSyncMessage(data)
	if err != nil {
		return data // our own core's output; send it as it is
	}
	pm.Capabilities = capsBoth
	if s.theirV2 && len(pm.Changes) > 0 {
		n := pm.ChangeBytes()
		if s.theirEmpty || n >= compactMin {
			if saved := e.savedDoc(d); s.theirEmpty || len(saved) < n {
				pm.Version = wire.SyncV2
				pm.Changes = [][]byte{saved}
			}
		}
	}
	return pm.Encode()
}

// receive applies a peer's sync message to the working copy and the
// session's sync state.
func (e *Engine) receive(s *session, pm *wire.SyncMessage, raw []byte) error {
	d := s.d
	if s.fastHeads != nil {
		if (s.ss == nil || !s.forward) && len(pm.Changes) == 0 && len(pm.Need) == 0 && wire.SameHeads(pm.Heads, s.fastHeads) {
			// The acknowledgement of a whole document or of changes we
			// sent: in sync, with nothing to load or answer.
			if s.forward {
				s.state = wire.EncodeSyncState(s.fastHeads)
			}
			s.agreed, s.fastHeads, s.forward = s.fastHeads, nil, false
			s.heard, s.theirEmpty = true, false
			s.setAwaiting(false)
			s.setMissing(false)
			s.persistNext = s.state
			e.touch(s)
			return nil
		}
		if s.forward {
			// The peer answered as Automerge: continue from the shared
			// heads we had, which state still holds.
			s.fastHeads, s.forward = nil, false
		} else {
			// Anything else: forget what we assumed the peer has.
			s.fastHeads, s.state, s.ss = nil, nil, nil
		}
	} else if done, err := e.forwardReceive(s, pm); done || err != nil {
		return err
	} else if s.ss == nil && d.known && d.doc == nil && len(pm.Changes) == 0 && len(pm.Need) == 0 &&
		len(pm.Heads) > 0 && SameAsHashes(d.meta.Heads, pm.Heads) {
		// The peer announces exactly our heads. Automerge would record
		// them and have nothing to answer; so do we, without loading.
		s.agreed = pm.Heads
		s.heard, s.theirEmpty = true, false
		s.setAwaiting(false)
		s.setMissing(false)
		if st := wire.EncodeSyncState(pm.Heads); !bytes.Equal(st, s.persisted) {
			s.state, s.persistNext = st, st
			e.touch(s)
		}
		return nil
	}
	s.agreed = nil
	doc, err := e.load(d)
	if err != nil {
		return err
	}
	ss := s.syncState(doc)
	s.heard = true
	s.setAwaiting(false)
	if pm.Capabilities != nil {
		s.theirV2 = pm.Supports(wire.CapMessageV2)
	}
	s.theirEmpty = len(pm.Heads) == 0
	before := doc.Heads()
	data := raw
	if len(pm.Changes) > 0 {
		// Changes never reach automerge-go's sync code: they are vetted,
		// applied here with LoadIncremental (which also takes the whole
		// documents and v2 chunks its 2023 core cannot parse in a sync
		// message), and the core is given the message with stand-ins: the
		// head changes, now present, so that its state advances exactly as
		// if it had applied them itself.
		joined := bytes.Join(pm.Changes, nil)
		if e.cfg.Verify != nil {
			if err := e.cfg.Verify(s.p.id, d.id, doc, joined); err != nil {
				return refused(d.id, "changes for %s rejected: %w", d.id, err)
			}
		}
		if err := doc.LoadIncremental(joined); err != nil {
			e.discardCopy(d)
			return refused(d.id, "corrupt changes for %s: %w", d.id, err)
		}
		var stand [][]byte
		for _, h := range pm.Heads {
			if c, err := doc.Change(automerge.ChangeHash(h)); err == nil {
				stand = append(stand, c.Save())
			}
		}
		data = (&wire.SyncMessage{Version: wire.SyncV1, Heads: pm.Heads, Need: pm.Need, Have: pm.Have, Changes: stand}).Encode()
	} else if pm.Version != wire.SyncV1 {
		// Current cores send v2 to peers that take it, changes or not; the
		// 2023 core reads only v1, which is the same without changes.
		data = (&wire.SyncMessage{Version: wire.SyncV1, Heads: pm.Heads, Need: pm.Need, Have: pm.Have}).Encode()
	}
	if _, err := ss.ReceiveMessage(data); err != nil {
		e.discardCopy(d)
		return fmt.Errorf("sync message for %s: %w", d.id, err)
	}
	missing := false
	for _, h := range pm.Heads {
		if _, err := doc.Change(automerge.ChangeHash(h)); err != nil {
			missing = true
			break
		}
	}
	s.setMissing(missing)
	e.touch(s)
	e.markDirty(s)
	if !headsEqual(before, doc.Heads()) {
		return e.docGrew(d, s)
	}
	return nil
}

// discardCopy drops a working copy that a failed apply may have half
// changed, unless it holds changes not yet handed out.
func (e *Engine) discardCopy(d *docState) {
	if d.unsaved || d.create || !d.known {
		return
	}
	e.unload(d)
}

// prime feeds a session the message an empty peer would send, so that
// the first message it generates carries the whole document. Used when an
// Outpost peer reported that it holds nothing of the collection.
func (e *Engine) prime(s *session) error {
	doc, err := e.load(s.d)
	if err != nil {
		return err
	}
	empty := (&wire.SyncMessage{Version: wire.SyncV1, Have: []wire.Have{{}}}).Encode()
	if _, err := s.syncState(doc).ReceiveMessage(empty); err != nil {
		return fmt.Errorf("sync: priming %s: %w", s.d.id, err)
	}
	s.theirV2, s.theirEmpty = true, true
	return nil
}

// stateUpdate returns the session's sync state if it must be persisted.
func (s *session) stateUpdate() (SyncStateUpdate, bool) {
	s.touched = false
	if s.p.storageID == "" || !s.d.known || s.p.gone {
		return SyncStateUpdate{}, false
	}
	var b []byte
	switch {
	case s.persistNext != nil:
		b, s.persistNext = s.persistNext, nil
	case s.ss != nil:
		b = s.ss.Save()
	default:
		return SyncStateUpdate{}, false
	}
	if bytes.Equal(b, s.persisted) {
		return SyncStateUpdate{}, false
	}
	s.persisted = b
	return SyncStateUpdate{Peer: s.p.storageID, ID: s.d.id, State: b}, true
}

func headsEqual(a, b []automerge.ChangeHash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SameAsHashes reports whether store heads a and wire heads b hold the
// same hashes, in any order.
func SameAsHashes(a []automerge.ChangeHash, b []wire.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for _, h := range a {
		if !slices.Contains(b, wire.Hash(h)) {
			return false
		}
	}
	return true
}
