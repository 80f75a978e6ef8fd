package sync

import (
	"slices"

	"github.com/outposthq/outpost/crdt/wire"
)

// peer is one connected peer.
type peer struct {
	id string
	// storageID keys persisted sync states and cursors; empty for peers
	// that have no storage or call themselves ephemeral, whose state lives
	// only as long as the connection.
	storageID string
	outpost   *wire.OutpostMeta
	grants    []string
	all       bool // granted every collection
	trusted   bool // see PeerInfo.Trusted
	sessions  map[string]*session
	scans     []*scan
	paused    bool
	// cursorDue holds cursors to announce after this round's messages.
	cursorDue map[string]uint64
	// scanned are the collections whose scan (cursor.go) ran to its end on
	// this connection: every document changed since the peer's cursor has
	// been offered, so a local change may move the announced cursor on.
	scanned map[string]bool
	// cursorWaits are cursors the peer announced that we may persist once
	// the documents they cover are in sync.
	cursorWaits []*cursorWait
	// rejected are documents this peer tried to write and was refused;
	// further messages about them get doc-unavailable at once.
	rejected map[string]bool
	// declined are documents we offered and the peer answered
	// doc-unavailable: it refused them (refusal.go), and they are not
	// offered again on this connection unless it syncs them itself.
	declined map[string]bool
	// missing indexes the sessions whose peer heads we lack, and
	// awaiting counts those waiting for an answer, so that cursors and
	// status never walk every session.
	missing  map[string]bool
	awaiting int
	gone     bool
}

func newPeer(info PeerInfo) *peer {
	p := &peer{
		id:        info.ID,
		sessions:  map[string]*session{},
		cursorDue: map[string]uint64{},
		scanned:   map[string]bool{},
		rejected:  map[string]bool{},
		declined:  map[string]bool{},
		missing:   map[string]bool{},
		trusted:   info.Trusted,
	}
	if md := info.Metadata; md != nil {
		if !md.IsEphemeral {
			p.storageID = md.StorageID
		}
		p.outpost = md.OutpostExt()
	}
	for _, g := range info.Grants {
		if g == "*" {
			p.all = true
		} else {
			p.grants = append(p.grants, g)
		}
	}
	return p
}

// allowed reports whether the peer may read and write collection c.
func (p *peer) allowed(c string) bool {
	return p.all || slices.Contains(p.grants, c)
}

// wants reports whether an Outpost peer syncs collection c; an Outpost
// peer that lists no collections (a server) wants all it is granted.
func (p *peer) wants(c string) bool {
	if p.outpost == nil {
		return false
	}
	return len(p.outpost.Collections) == 0 || slices.Contains(p.outpost.Collections, c)
}

func (p *peer) storageKey() string { return p.storageID }

// shares reports whether documents of collection c flow to this peer
// without being asked for: both sides sync c and the peer is granted it.
func (e *Engine) shares(p *peer, c string) bool {
	return p.outpost != nil && e.holds(c) && p.allowed(c) && p.wants(c)
}

// sharedCollections lists the collections whose changes the two sides
// exchange by cursor. It must be enumerable, so it comes from whichever
// side lists its collections: ours, the peer's, or the peer's grants.
func (e *Engine) sharedCollections(p *peer) []string {
	var cands []string
	switch {
	case e.cfg.Collections != nil:
		cands = e.cfg.Collections
	case len(p.outpost.Collections) > 0:
		cands = p.outpost.Collections
	case !p.all:
		cands = p.grants
	}
	var out []string
	for _, c := range cands {
		if e.shares(p, c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// Pause stops (or resumes) offering documents to a peer from cursor scans:
// the caller's flow control, for when the peer's send queue is long.
// Replies and live changes are not held back.
func (e *Engine) Pause(id string, paused bool) {
	if p, ok := e.peers[id]; ok {
		p.paused = paused
	}
}
