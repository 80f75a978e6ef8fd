package sync

import (
	"errors"
	"fmt"
)

// What a peer sends is refused at one of two levels, by what the error is
// about:
//
//   - One document's content: the vetting (Config.Verify) refused its
//     bytes, its change chunks are corrupt, or Automerge cannot apply
//     them. The peer is healthy as far as the protocol goes; the document
//     may have been damaged anywhere upstream, or our vetting may be
//     stricter than the peer's Automerge. Closing the connection would not
//     help: after the reconnect the same document comes first again (it
//     has the lowest sequence number of what the peer still has to send),
//     so one bad document would stop the peer's whole sync. Such an error
//     is a refusal: the document is refused for the rest of the connection
//     (refuseContent), everything else keeps syncing. Our own stored copy
//     failing to load (Storage returns ErrDamaged) is refused the same way,
//     for the same reason: it would come first again after a reconnect.
//   - The connection: an undecodable frame (the caller's codec), a
//     senderId that is not the peer's, a sync message that does not parse
//     or that Automerge's sync code rejects (its heads, needs, haves and
//     bloom filters are the protocol, not a document's content), and the
//     store failing under us. Step returns the error and the peer is
//     closed (violation).
//
// A refused document is out of the connection in both directions: further
// messages from the peer about it are answered doc-unavailable at once
// (peer.rejected) and we offer it nothing (generate, scanPage). The side
// whose document was refused hears doc-unavailable for a document it has
// and offered, and stops offering it for the connection (peer.declined), so
// neither side spins. A later connection offers it again once it changed
// (see below): the bytes may have been repaired, or the receiver upgraded.
//
// Cursors do not wait for a refused document: its session is dropped, so
// it is neither missing nor pending, and a cursor announced over it
// settles. Waiting would hold the cursor below the document forever and
// make every reconnect offer everything after it again. The price is that
// such a cursor covers a document that is not (or not fully) here, the one
// exception to the rule in cursor.go: it is offered again when it next
// changes on the offering side after that connection ends (changes made
// while it lasts are covered by the cursors it announces too), or on a
// full resync (a lost cursor), and not before.

// refusal is an error about one document's content (see above): Step
// refuses the document instead of closing the connection.
type refusal struct {
	doc string
	err error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refused marks err as a refusal of document doc's content.
func refused(doc string, format string, args ...any) error {
	return &refusal{doc: doc, err: fmt.Errorf(format, args...)}
}

// asRefusal reports whether err is a refusal of a document's content.
func asRefusal(err error) (*refusal, bool) {
	var r *refusal
	ok := errors.As(err, &r)
	return r, ok
}

// refuseContent refuses, for the rest of p's connection, the document whose
// content p sent was refused: the refusal is reported (Ready.Rejected, the
// caller's log), p is told doc-unavailable, and p's session of the
// document is dropped. Nothing of the refused bytes has reached the working
// copy or the store (receive discards a copy a failed apply may have
// touched). Unlike refuse, it concerns p alone: another peer's copy of the
// document may be sound.
func (e *Engine) refuseContent(p *peer, id, coll string, err error) {
	d := e.docs[id]
	switch {
	case d != nil && d.known:
		coll = d.meta.Collection
	case coll == "" && d != nil && d.proposed != nil:
		coll = d.proposed.Collection
	}
	e.reject(p, id, coll, "content refused: "+err.Error())
	p.rejected[id] = true
	e.unavailable(p, id)
	if d == nil {
		return
	}
	if s := d.sessions[p.id]; s != nil {
		e.dropSession(s)
	}
	if !d.known {
		// A document new to us: p no longer counts as a source for
		// whoever asked us for it.
		if d.ask != nil {
			delete(d.ask.waiting, p.id)
			e.checkAsk(d)
		}
		e.maybeDropPending(d)
	}
}

// excluded reports whether document id is out of p's connection: refused
// by either side.
func (p *peer) excluded(id string) bool {
	return p.rejected[id] || p.declined[id]
}
