package sync

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// docState is what the engine knows of one document: its metadata, a
// loaded working copy while it is in use, and one session per peer it is
// syncing with.
//
// The working copy is the engine's own: received changes are applied to
// it and handed to the caller in Ready.Changes; the caller's store applies
// them to its copy. A copy with changes not yet handed out (unsaved) is
// never evicted.
type docState struct {
	id    string
	known bool // stored here, or created by the engine and about to be
	meta  Meta
	doc   *automerge.Doc
	// saved caches doc.Save() for savedHeads: the whole-document form sent
	// to peers that have nothing.
	saved      []byte
	savedHeads []automerge.ChangeHash
	// storeHeads are the heads the store has (as far as the engine knows):
	// a Ready hands out the changes since them. (Not SaveIncremental: the
	// whole-document sends call Save, which moves its mark.)
	storeHeads []automerge.ChangeHash
	unsaved    bool // doc has changes not yet in a Ready
	create     bool // the next Ready creates the document
	// createData and createHeads: a document received whole and not
	// loaded (see fastReceive); the next Ready creates it from these.
	createData  []byte
	createHeads []automerge.ChangeHash
	// appendData: changes received on top of appendBase (the store's
	// heads) and not loaded (see forwardReceive); the next Ready appends
	// them, making appendHeads the heads.
	appendData  []byte
	appendBase  []automerge.ChangeHash
	appendHeads []automerge.ChangeHash
	// forwardedAt is one more than the tick of the last vetted
	// fast-forward of the document (see forwardReceive); 0 if none.
	forwardedAt uint64
	lastUse     uint64
	sessions    map[string]*session
	ask         *askState
	// proposed is the collection and type an Outpost peer announced for a
	// document new to us.
	proposed *wire.DocInfo
}

// docFor returns the state of document id, reading its metadata from
// storage when the engine does not track it yet. It returns nil, nil for a
// document neither stored nor in flight.
func (e *Engine) docFor(id string) (*docState, error) {
	if d, ok := e.docs[id]; ok {
		return d, nil
	}
	m, err := e.cfg.Storage.Meta(id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sync: reading metadata of %s: %w", id, err)
	}
	return e.track(m), nil
}

// track returns the state of a stored document, creating it from m.
func (e *Engine) track(m Meta) *docState {
	if d, ok := e.docs[m.ID]; ok {
		return d
	}
	d := &docState{id: m.ID, known: true, meta: m, sessions: map[string]*session{}}
	e.docs[m.ID] = d
	return d
}

// pending returns the state of a document this side does not have yet.
func (e *Engine) pending(id string) *docState {
	d := &docState{id: id, sessions: map[string]*session{}}
	e.docs[id] = d
	return d
}

// load makes sure d has a working copy.
func (e *Engine) load(d *docState) (*automerge.Doc, error) {
	e.useClock++
	d.lastUse = e.useClock
	if d.doc != nil {
		return d.doc, nil
	}
	e.loads++
	if !d.known {
		e.setDoc(d, automerge.New())
		return d.doc, nil
	}
	if d.createData != nil {
		// Received whole and not persisted yet: the store does not have it.
		doc, err := automerge.Load(d.createData)
		if err != nil {
			return nil, fmt.Errorf("sync: loading %s: %w", d.id, err)
		}
		e.setDoc(d, doc)
		return doc, nil
	}
	doc, m, err := e.cfg.Storage.Load(d.id)
	if errors.Is(err, ErrDamaged) {
		return nil, refused(d.id, "sync: our stored copy of %s cannot be loaded: %w", d.id, err)
	}
	if err != nil {
		return nil, fmt.Errorf("sync: loading %s: %w", d.id, err)
	}
	d.meta = m
	d.storeHeads = doc.Heads()
	if d.appendData != nil {
		// Received and vetted, not persisted yet: the working copy has
		// them, and the next Ready hands them out as ordinary changes.
		if err := doc.LoadIncremental(d.appendData); err != nil {
			return nil, fmt.Errorf("sync: loading %s: %w", d.id, err)
		}
		d.appendData, d.appendBase, d.appendHeads = nil, nil, nil
	}
	e.setDoc(d, doc)
	return doc, nil
}

// savedDoc returns the whole document in Save form, cached per heads.
func (e *Engine) savedDoc(d *docState) []byte {
	heads := d.doc.Heads()
	if d.saved == nil || !slices.Equal(heads, d.savedHeads) {
		d.saved, d.savedHeads = d.doc.Save(), heads
	}
	return d.saved
}

// grew records that d's working copy gained changes.
func (e *Engine) grew(d *docState) {
	if !d.unsaved {
		d.unsaved = true
		e.changed = append(e.changed, d)
	}
}

// takeChange hands d's new changes to the caller.
func (d *docState) takeChange() (DocChange, error) {
	if d.create && d.doc == nil {
		c := DocChange{ID: d.id, Create: true, Collection: d.meta.Collection, Type: d.meta.Type, Data: d.createData, Heads: d.createHeads}
		d.saved, d.savedHeads = d.createData, d.createHeads
		d.createData, d.create, d.unsaved = nil, false, false
		d.meta.Heads = c.Heads
		return c, nil
	}
	if d.appendData != nil && d.doc == nil {
		c := DocChange{ID: d.id, Append: true, Collection: d.meta.Collection, Type: d.meta.Type, Data: d.appendData, Base: d.appendBase, Heads: d.appendHeads}
		d.appendData, d.appendBase, d.appendHeads, d.unsaved = nil, nil, nil, false
		d.meta.Heads = c.Heads
		return c, nil
	}
	c := DocChange{ID: d.id, Collection: d.meta.Collection, Type: d.meta.Type, Heads: d.doc.Heads()}
	d.createData = nil
	if d.create {
		c.Create = true
		c.Data = d.doc.Save()
		d.saved, d.savedHeads = c.Data, c.Heads
		d.create = false
	} else {
		chs, err := d.doc.Changes(d.storeHeads...)
		if err != nil {
			return c, fmt.Errorf("sync: changes of %s: %w", d.id, err)
		}
		c.Data = automerge.SaveChanges(chs)
	}
	d.storeHeads = c.Heads
	d.meta.Heads = c.Heads
	d.unsaved = false
	return c, nil
}

// setDoc installs a working copy.
func (e *Engine) setDoc(d *docState, doc *automerge.Doc) {
	d.doc = doc
	e.loaded[d] = struct{}{}
}

// unload drops d's working copy (and cached save); sessions keep their
// sync states.
func (e *Engine) unload(d *docState) {
	d.doc, d.saved, d.savedHeads = nil, nil, nil
	delete(e.loaded, d)
	for _, s := range d.sessions {
		s.unbind()
	}
}

// evict unloads the least recently used working copies beyond
// Config.DocCache (down to three quarters of it, so that eviction is not
// paid on every round), and now and then forgets documents nobody is
// syncing. Neither walks every document on every round: a server tracks
// far more documents than a round touches.
func (e *Engine) evict() {
	if len(e.docs) > 2*e.sweepAt {
		for id, d := range e.docs {
			if d.doc == nil && len(d.sessions) == 0 && d.ask == nil && !d.unsaved && !d.create {
				delete(e.docs, id)
			}
		}
		e.sweepAt = max(len(e.docs), 1024)
	}
	if len(e.loaded) <= e.cfg.DocCache {
		return
	}
	loaded := make([]*docState, 0, len(e.loaded))
	for d := range e.loaded {
		loaded = append(loaded, d)
	}
	slices.SortFunc(loaded, func(a, b *docState) int { return cmp.Compare(a.lastUse, b.lastUse) })
	drop := len(loaded) - e.cfg.DocCache*3/4
	for _, d := range loaded {
		if drop == 0 {
			break
		}
		if d.unsaved || d.create || !d.known {
			continue
		}
		e.unload(d)
		drop--
	}
}

// maybeDropPending forgets a document we do not have once nobody is
// offering or asking for it.
func (e *Engine) maybeDropPending(d *docState) {
	if !d.known && len(d.sessions) == 0 && d.ask == nil {
		e.forget(d)
	}
}

// forget drops every trace of d.
func (e *Engine) forget(d *docState) {
	delete(e.loaded, d)
	d.doc = nil
	if e.docs[d.id] == d {
		delete(e.docs, d.id)
		delete(e.asking, d.id)
	}
}

// rootString reads a string (or Text) field of the document root.
func rootString(doc *automerge.Doc, key string) string {
	v, err := doc.RootMap().Get(key)
	if err != nil || v == nil {
		return ""
	}
	switch v.Kind() {
	case automerge.KindStr:
		return v.Str()
	case automerge.KindText:
		s, err := v.Text().Get()
		if err != nil {
			return ""
		}
		return s
	}
	return ""
}

// DocChanged tells the engine that a document changed in the store: a
// local edit, or the engine's own write coming back. The caller forwards
// every store notification, after the write is durable.
func (e *Engine) DocChanged(m Meta) {
	d := e.docs[m.ID]
	if d != nil {
		if d.doc != nil && !slices.Equal(d.doc.Heads(), m.Heads) {
			if d.unsaved || d.create {
				// Our copy has changes the store has not seen yet; merge
				// the store's instead of dropping ours.
				if other, _, err := e.cfg.Storage.Load(m.ID); err == nil {
					if _, err := d.doc.Merge(other); err == nil {
						e.grew(d)
					}
				}
			} else {
				e.unload(d)
			}
		}
		if d.doc != nil {
			d.storeHeads = m.Heads
		}
		if !d.known {
			// Created here while a peer was offering it: ours now.
			d.known = true
		}
		d.meta = m
		for _, pid := range sortedKeys(d.sessions) {
			e.markDirty(d.sessions[pid])
		}
	}
	for _, pid := range sortedKeys(e.peers) {
		p := e.peers[pid]
		if !e.shares(p, m.Collection) {
			continue
		}
		if d == nil {
			d = e.track(m)
		}
		if !p.excluded(m.ID) {
			s, err := e.session(d, p)
			if err != nil {
				continue // the store failed to load it; the next change retries
			}
			e.markDirty(s)
		}
		// The change is offered, and so is everything before it once this
		// connection's scan of the collection is complete. Before the
		// scan (the peer's outpost-since not yet here) or during it, a
		// cursor would cover documents not offered yet, and the peer
		// would never ask for them again.
		if p.scanned[m.Collection] && !p.scanning(m.Collection) && m.Seq > p.cursorDue[m.Collection] {
			p.cursorDue[m.Collection] = m.Seq
		}
	}
}
