package sync

import (
	"fmt"

	"github.com/outposthq/outpost/crdt/wire"
)

// askState tracks a document requested of us that we do not have, while
// we ask our other peers for it (automerge-repo answers doc-unavailable
// only once every peer it asked has).
type askState struct {
	requesters map[string]bool
	waiting    map[string]bool
	deadline   uint64
}

// stepSync handles request and sync messages.
func (e *Engine) stepSync(p *peer, m *wire.Message) error {
	pm, err := wire.ParseSyncMessage(m.Data)
	if err != nil {
		return err
	}
	if p.rejected[m.DocumentID] {
		e.unavailable(p, m.DocumentID)
		return nil
	}
	// A peer that syncs a document it declined has taken it after all
	// (a doc-unavailable that answered an earlier request of ours).
	delete(p.declined, m.DocumentID)
	d, err := e.docFor(m.DocumentID)
	if err != nil {
		return err
	}
	if d != nil && d.known {
		if !p.allowed(d.meta.Collection) {
			if m.Type == wire.TypeSync && (len(pm.Heads) > 0 || len(pm.Changes) > 0) {
				e.reject(p, d.id, d.meta.Collection, "write to a collection the peer is not granted")
			}
			e.unavailable(p, d.id)
			return nil
		}
		s, err := e.session(d, p)
		if err != nil {
			return err
		}
		return e.receive(s, pm, m.Data)
	}

	// A document we do not have.
	if d == nil {
		d = e.pending(m.DocumentID)
	}
	if info := m.Doc; info != nil && p.outpost != nil && p.allowed(info.Collection) && e.holds(info.Collection) {
		if done, err := e.fastReceive(d, p, m, pm); done || err != nil {
			return err
		}
	}
	if p.outpost != nil && m.Doc != nil && d.proposed == nil {
		d.proposed = m.Doc
	}
	if info := d.proposed; info != nil && p.outpost != nil && (!p.allowed(info.Collection) || !e.holds(info.Collection)) {
		e.refuse(d, p, info.Collection, "document of a collection not granted or not held here")
		return nil
	}
	s, err := e.session(d, p)
	if err != nil {
		return err
	}
	if d.ask != nil && d.ask.waiting[p.id] && len(pm.Heads) == 0 {
		// A peer we asked is asking too: it does not have it either.
		delete(d.ask.waiting, p.id)
	}
	if len(pm.Heads) == 0 && len(pm.Changes) == 0 {
		// They have nothing either: they want it.
		if err := e.receive(s, pm, m.Data); err != nil {
			return err
		}
		e.ask(d, p)
		return nil
	}
	// They have it; our reply (empty heads) asks them for all of it.
	return e.receive(s, pm, m.Data)
}

// docGrew handles new changes in d's working copy that came from session
// s: a new document gets its store metadata (or is refused), and the
// change goes to the other peers syncing it.
func (e *Engine) docGrew(d *docState, s *session) error {
	if !d.known {
		coll, typ, reason := e.decide(d, s.p)
		if reason != "" {
			e.refuse(d, s.p, coll, reason)
			return nil
		}
		d.known, d.create = true, true
		d.meta = Meta{ID: d.id, Collection: coll, Type: typ}
		e.setAsk(d, nil)
		for pid, other := range d.sessions {
			if !other.p.allowed(coll) {
				// A requester that may not see it gets doc-unavailable.
				e.dropSession(other)
				if pid != s.p.id {
					e.unavailable(e.peers[pid], d.id)
				}
			}
		}
	}
	e.grew(d)
	for _, pid := range sortedKeys(d.sessions) {
		e.markDirty(d.sessions[pid])
	}
	return nil
}

// decide picks the collection and type of a document new to this side,
// offered by peer p. Outpost peers name them; for plain automerge-repo
// clients the collection is the document root's string field
// "collection" if present, else the only collection the client's token
// grants, and the type is the root field "type" or Config.DefaultType.
func (e *Engine) decide(d *docState, p *peer) (coll, typ, reason string) {
	if p.outpost != nil && d.proposed != nil {
		coll, typ = d.proposed.Collection, d.proposed.Type
	} else {
		coll, typ = rootString(d.doc, "collection"), rootString(d.doc, "type")
		if coll == "" && !p.all && len(p.grants) == 1 {
			coll = p.grants[0]
		}
	}
	switch {
	case coll == "":
		return "", "", `no collection: the document root has no "collection" field and the token grants more than one`
	case !p.allowed(coll):
		return coll, "", "collection not granted to the peer"
	case !e.holds(coll):
		return coll, "", "collection not held here"
	}
	if typ == "" {
		typ = e.cfg.DefaultType
	}
	return coll, typ, ""
}

// refuse drops a document a peer offered that we will not store.
func (e *Engine) refuse(d *docState, p *peer, coll, reason string) {
	e.reject(p, d.id, coll, reason)
	p.rejected[d.id] = true
	for _, pid := range sortedKeys(d.sessions) {
		e.dropSession(d.sessions[pid])
		if q := e.peers[pid]; q != nil {
			e.unavailable(q, d.id)
		}
	}
	if d.ask != nil {
		for _, pid := range sortedKeys(d.ask.requesters) {
			if q := e.peers[pid]; q != nil && d.sessions[pid] == nil {
				e.unavailable(q, d.id)
			}
		}
		e.setAsk(d, nil)
	}
	if !d.known {
		e.forget(d)
	}
}

func (e *Engine) reject(p *peer, doc, coll, reason string) {
	e.rd.Rejected = append(e.rd.Rejected, Rejection{Peer: p.id, Doc: doc, Collection: coll, Reason: reason})
}

func (e *Engine) unavailable(p *peer, doc string) {
	if p == nil || p.gone {
		return
	}
	e.send(p, &wire.Message{Type: wire.TypeDocUnavailable, DocumentID: doc})
}

// ask forwards a request for a document we lack to every other peer.
func (e *Engine) ask(d *docState, requester *peer) {
	if d.ask != nil {
		d.ask.requesters[requester.id] = true
		e.checkAsk(d)
		return
	}
	a := &askState{requesters: map[string]bool{requester.id: true}, waiting: map[string]bool{}, deadline: e.tick + uint64(e.cfg.RequestTimeout)}
	e.setAsk(d, a)
	for _, pid := range sortedKeys(e.peers) {
		q := e.peers[pid]
		if q == requester || q.excluded(d.id) {
			continue
		}
		if s := d.sessions[pid]; s != nil && s.heard {
			continue // already told us what it has
		}
		s, err := e.session(d, q)
		if err != nil {
			continue
		}
		a.waiting[pid] = true
		e.markDirty(s)
	}
	e.checkAsk(d)
}

// checkAsk answers the requesters once no asked peer can still send the
// document.
func (e *Engine) checkAsk(d *docState) {
	a := d.ask
	if a == nil || d.known || len(a.waiting) > 0 {
		return
	}
	e.setAsk(d, nil)
	for _, pid := range sortedKeys(a.requesters) {
		if q := e.peers[pid]; q != nil {
			e.unavailable(q, d.id)
			if s := d.sessions[pid]; s != nil {
				e.dropSession(s)
			}
		}
	}
	for _, pid := range sortedKeys(d.sessions) {
		e.dropSession(d.sessions[pid])
	}
	e.maybeDropPending(d)
}

// setAsk sets or clears d's forwarded request, keeping the index Tick
// walks.
func (e *Engine) setAsk(d *docState, a *askState) {
	d.ask = a
	if a != nil {
		e.asking[d.id] = d
	} else {
		delete(e.asking, d.id)
	}
}

// stepUnavailable handles doc-unavailable: the peer does not have it, or,
// for a document we have and offered, will not take it (refusal.go).
func (e *Engine) stepUnavailable(p *peer, m *wire.Message) {
	d := e.docs[m.DocumentID]
	if d == nil {
		return
	}
	if d.known {
		if s := d.sessions[p.id]; s != nil {
			p.declined[d.id] = true
			e.dropSession(s)
			e.rd.Declined = append(e.rd.Declined, Rejection{Peer: p.id, Doc: d.id, Collection: d.meta.Collection,
				Reason: "the peer answered doc-unavailable for a document we offered; not offered again on this connection"})
		}
		return
	}
	if s := d.sessions[p.id]; s != nil {
		e.dropSession(s)
	}
	if d.ask != nil {
		delete(d.ask.waiting, p.id)
		e.checkAsk(d)
	}
	e.maybeDropPending(d)
}

// stepEphemeral relays an ephemeral message to the other peers syncing the
// document, if the sender may see it. Nothing ephemeral is stored.
func (e *Engine) stepEphemeral(p *peer, m *wire.Message) {
	d := e.docs[m.DocumentID]
	if d == nil || !d.known {
		var err error
		if d, err = e.docFor(m.DocumentID); err != nil || d == nil || !d.known {
			return // unknown documents' ephemera are dropped
		}
	}
	if !p.allowed(d.meta.Collection) {
		return
	}
	key := m.SenderID + "\x00" + m.SessionID
	if last, ok := e.ephSeen[key]; ok && m.Count <= last {
		return
	}
	e.ephSeen[key] = m.Count
	for _, pid := range sortedKeys(d.sessions) {
		q := e.peers[pid]
		if q == nil || q == p || !q.allowed(d.meta.Collection) {
			continue
		}
		fwd := *m
		fwd.TargetID = q.id
		e.rd.Messages = append(e.rd.Messages, Envelope{To: q.id, Msg: &fwd})
	}
}

// Sync starts syncing document id with a connected peer: the peer is sent
// our heads (or, if we do not have the document, a request for it). This
// is how a node opens a document it lacks by id, and how an
// automerge-repo-style client announces the documents it has.
func (e *Engine) Sync(peerID, id string) error {
	p, ok := e.peers[peerID]
	if !ok {
		return fmt.Errorf("sync: no peer %q", peerID)
	}
	if !wire.ValidDocumentID(id) {
		return fmt.Errorf("sync: invalid document id %q", id)
	}
	d, err := e.docFor(id)
	if err != nil {
		return err
	}
	if d == nil {
		d = e.pending(id)
	}
	if d.known && !p.allowed(d.meta.Collection) {
		return fmt.Errorf("sync: peer %s is not granted collection %s", peerID, d.meta.Collection)
	}
	s, err := e.session(d, p)
	if err != nil {
		return err
	}
	e.markDirty(s)
	return nil
}
