package sync

import (
	"github.com/outposthq/outpost/crdt/wire"
)

// Reconnects cost in proportion to what changed. Each side keeps, per peer
// storage id and collection, a cursor: the peer's change sequence number up
// to which every document of the collection is already here. After the
// handshake each Outpost side sends outpost-since with its cursor; the
// other side offers (starts syncing) every document whose sequence is above
// it, then sends outpost-cursor with the highest sequence offered. The
// receiver persists that cursor once every document offered before it is in
// sync, after their changes are persisted, so a cursor never covers a
// document that is not here. Plain automerge-repo peers never see any of
// this.

// scan walks one collection's change sequence for a peer.
type scan struct {
	coll  string
	after uint64
	// empty: the peer holds nothing of the collection, so documents go out
	// whole in the first message instead of after a round trip.
	empty bool
	done  bool
}

// cursorWait is a cursor the peer announced, waiting for the documents it
// covers to be in sync.
type cursorWait struct {
	coll    string
	seq     uint64
	pending map[string]bool
}

func (p *peer) scanning(coll string) bool {
	for _, sc := range p.scans {
		if sc.coll == coll && !sc.done {
			return true
		}
	}
	return false
}

func (p *peer) scanDue() bool {
	if p.paused {
		return false
	}
	for _, sc := range p.scans {
		if !sc.done {
			return true
		}
	}
	return false
}

// stepSince starts a scan for the peer.
func (e *Engine) stepSince(p *peer, m *wire.Message) {
	if p.outpost == nil {
		return
	}
	if !e.shares(p, m.Collection) {
		e.reject(p, "", m.Collection, "outpost-since for a collection not shared with the peer")
		return
	}
	for _, sc := range p.scans {
		if sc.coll == m.Collection && !sc.done {
			if m.Seq < sc.after {
				sc.after = m.Seq
			}
			return
		}
	}
	p.scans = append(p.scans, &scan{coll: m.Collection, after: m.Seq, empty: m.Empty})
}

// continueScans offers the next page of documents of each scan, unless the
// caller paused the peer. One page per scan per round keeps a Ready small.
func (e *Engine) continueScans(p *peer) {
	if p.paused || p.gone {
		return
	}
	kept := p.scans[:0]
	for _, sc := range p.scans {
		if !sc.done {
			e.scanPage(p, sc)
		}
		if !sc.done {
			kept = append(kept, sc)
		}
	}
	p.scans = kept
}

func (e *Engine) scanPage(p *peer, sc *scan) {
	metas, err := e.cfg.Storage.ChangedSince(sc.coll, sc.after, e.cfg.ScanPage)
	if err != nil {
		// The store failed; stop this scan. The cursor was not advanced,
		// so the next connection scans again.
		sc.done = true
		return
	}
	// First decide what each document needs, so that the whole documents
	// about to be sent can be prepared in parallel.
	sessions := make([]*session, len(metas))
	var whole []string
	stopped := false
	for i, m := range metas {
		d := e.track(m)
		if (d.known && !p.allowed(d.meta.Collection)) || p.excluded(m.ID) {
			continue // an excluded document does not hold the cursor back (refusal.go)
		}
		s, err := e.session(d, p)
		if err != nil {
			// The store failed to read its sync state: offer nothing
			// from here on, so that the cursor stops short of it and the
			// next connection scans it again.
			metas, sessions, stopped = metas[:i], sessions[:i], true
			break
		}
		sessions[i] = s
		if sc.empty && s.fresh && !s.heard && s.ss == nil && !s.dirty {
			whole = append(whole, m.ID)
		}
	}
	if pf, ok := e.cfg.Storage.(Prefetcher); ok && len(whole) > 0 {
		pf.PrefetchSaved(whole)
	}
	for i, m := range metas {
		sc.after = m.Seq
		s := sessions[i]
		if s == nil {
			continue
		}
		if sc.empty && s.fresh && !s.heard && s.ss == nil && !s.dirty {
			if e.fastSend(s) == nil {
				continue
			}
		}
		if s.inAgreement(m.Heads) {
			continue // the peer has exactly this: nothing to say, nothing to load
		}
		e.markDirty(s)
	}
	// Every document up to sc.after has been offered: say so now, so that
	// a connection lost halfway through a cold sync resumes from here.
	if sc.after > p.cursorDue[sc.coll] {
		p.cursorDue[sc.coll] = sc.after
	}
	if stopped {
		sc.done = true
	} else if len(metas) < e.cfg.ScanPage {
		sc.done = true
		p.scanned[sc.coll] = true
	}
}

// flushCursors announces cursors after this round's sync messages.
func (e *Engine) flushCursors(p *peer) {
	if p.gone || len(p.cursorDue) == 0 {
		return
	}
	for _, c := range sortedKeys(p.cursorDue) {
		e.send(p, &wire.Message{Type: wire.TypeOutpostCursor, Collection: c, Seq: p.cursorDue[c]})
	}
	p.cursorDue = map[string]uint64{}
}

// stepCursor records a cursor the peer announced.
func (e *Engine) stepCursor(p *peer, m *wire.Message) {
	if p.outpost == nil || p.storageID == "" || !e.shares(p, m.Collection) {
		return
	}
	w := &cursorWait{coll: m.Collection, seq: m.Seq, pending: map[string]bool{}}
	for id := range p.missing {
		if s := p.sessions[id]; s != nil && (s.d.meta.Collection == m.Collection || !s.d.known) {
			w.pending[id] = true
		}
	}
	p.cursorWaits = append(p.cursorWaits, w)
}

// cursorWaitsDue reports whether settleCursors would hand out a cursor:
// the first wait of some collection is settled.
func (p *peer) cursorWaitsDue() bool {
	first := map[string]bool{}
	for _, w := range p.cursorWaits {
		if first[w.coll] {
			continue
		}
		first[w.coll] = true
		if p.settled(w) {
			return true
		}
	}
	return false
}

func (p *peer) settled(w *cursorWait) bool {
	for id := range w.pending {
		if s := p.sessions[id]; s != nil && s.missing {
			return false
		}
		delete(w.pending, id)
	}
	return true
}

// settleCursors hands out cursors whose documents are all in sync. Called
// after this round's Changes are collected, so they persist first.
func (e *Engine) settleCursors(p *peer) {
	if p.gone {
		return
	}
	kept := p.cursorWaits[:0]
	blocked := map[string]bool{}
	for _, w := range p.cursorWaits {
		// Cursors of one collection settle in the order they came.
		if !blocked[w.coll] && p.settled(w) {
			e.rd.Cursors = append(e.rd.Cursors, CursorUpdate{Peer: p.storageID, Collection: w.coll, Seq: w.seq})
			continue
		}
		blocked[w.coll] = true
		kept = append(kept, w)
	}
	p.cursorWaits = kept
}
