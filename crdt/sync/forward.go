package sync

import (
	"bytes"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
)

// A reconnect, or a live edit, moves a few changes of a document both
// sides already share. Through Automerge's sync code that costs, per
// document, a load on each side to generate and receive messages, a round
// trip for the bloom filters, and a third load in the receiver's store to
// apply the changes: milliseconds per document. Between Outpost peers whose
// stores keep change logs (ChangeLog), the exchange is determined without
// any of that, so both sides do it by hand, as fast.go does for cold sync,
// producing messages and sync states Automerge would accept:
//
//   - The sender (forwardSend) knows from the persisted sync state which
//     heads the peer has (the shared heads). Its store hands out the changes
//     since them from its log (ChangeLog.ChangesSince), and it sends them at
//     once with its heads and a have of the shared heads and a bloom filter
//     of those changes, as Automerge would in its second message, and
//     awaits the peer's acknowledgement of its heads.
//   - The receiver (forwardReceive) takes the message if its stored heads
//     are exactly the shared heads the sender assumed, and every change
//     depends only on those heads or earlier changes: then the new heads
//     follow from the hashes alone. It vets the bytes (the stored document
//     followed by the changes, as a load will read them), hands them to the
//     store to append to the log (DocChange.Append), records the new heads
//     as shared, and acknowledges with them, nothing needed, an empty bloom.
//   - The acknowledgement completes the sender's session (see receive).
//
// Anything else, on either side, takes the general path, which accepts
// these messages as Automerge's own: a receiver that edited the document
// concurrently loads it, applies the changes and answers with what it has
// (the bloom keeps ours from coming back), and the sender, hearing
// something other than the acknowledgement, continues from the shared
// heads it had.

// hotTicks is how long after a vetted fast-forward a document's next
// changes take the general path (see forwardReceive): 5 s at synclink's
// tick.
const hotTicks = 50

// forwardSend sends a document's changes since the heads the peer is known
// to have, without loading it. It reports whether it did.
func (e *Engine) forwardSend(s *session) (bool, error) {
	d, p := s.d, s.p
	cl, ok := e.cfg.Storage.(ChangeLog)
	if !ok || p.outpost == nil || !d.known || d.doc != nil || d.create || d.createData != nil ||
		d.appendData != nil || d.unsaved || s.ss != nil || s.fastHeads != nil {
		return false, nil
	}
	shared := s.agreed
	if shared == nil && s.state != nil {
		if hs, err := wire.DecodeSyncState(s.state); err == nil {
			shared = hs
		}
	}
	if len(shared) == 0 {
		return false, nil
	}
	raw, m, ok, err := cl.ChangesSince(d.id, toChangeHashes(shared))
	if err != nil || !ok || len(raw) == 0 {
		return false, nil // the general path decides, and reports store errors
	}
	changes, err := splitChanges(raw)
	if err != nil {
		return false, nil
	}
	d.meta = m
	hashes := make([]wire.Hash, len(changes))
	chunks := make([][]byte, len(changes))
	for i, c := range changes {
		hashes[i], chunks[i] = c.Hash, c.Raw
	}
	heads := sortHashes(toWireHashes(m.Heads))
	msg := &wire.SyncMessage{
		Version:      wire.SyncV1,
		Heads:        heads,
		Have:         []wire.Have{{LastSync: sortHashes(append([]wire.Hash(nil), shared...)), Bloom: bloomOf(hashes)}},
		Changes:      chunks,
		Capabilities: capsBoth,
	}
	s.fastHeads, s.forward, s.agreed = heads, true, nil
	s.setAwaiting(true)
	e.send(p, &wire.Message{Type: wire.TypeSync, DocumentID: d.id, Data: msg.Encode()})
	return true, nil
}

// forwardReceive takes changes a peer sent on top of heads this side's
// store is at, without loading the document. It reports whether it did.
func (e *Engine) forwardReceive(s *session, pm *wire.SyncMessage) (bool, error) {
	d, p := s.d, s.p
	cl, ok := e.cfg.Storage.(ChangeLog)
	if !ok || p.outpost == nil || !d.known || d.doc != nil || d.create || d.createData != nil ||
		d.appendData != nil || d.unsaved || s.ss != nil || s.fastHeads != nil ||
		len(pm.Changes) == 0 || len(pm.Need) != 0 || len(pm.Have) != 1 || len(pm.Heads) == 0 {
		return false, nil
	}
	m, err := e.cfg.Storage.Meta(d.id)
	if err != nil {
		return false, nil
	}
	d.meta = m
	if !SameAsHashes(m.Heads, pm.Have[0].LastSync) {
		return false, nil // we moved on too (or lost something): Automerge sorts it out
	}
	for _, c := range pm.Changes {
		if t, ok := wire.ChunkType(c); ok && t == wire.ChunkDocument {
			return false, nil // a whole document (v2): the general path
		}
	}
	joined := bytes.Join(pm.Changes, nil)
	changes, err := splitChanges(joined)
	if err != nil {
		// Automerge would drop what it cannot parse and ask again, and
		// get the same bytes again: the document is refused (refusal.go).
		return true, refused(d.id, "changes for %s rejected: %w", d.id, err)
	}
	heads, ok := headsAfter(toWireHashes(m.Heads), changes)
	if !ok || !wire.SameHeads(heads, pm.Heads) {
		return false, nil
	}
	if e.cfg.Verify != nil && !p.trusted {
		if d.forwardedAt != 0 && e.tick < d.forwardedAt-1+hotTicks {
			// Vetting here costs a load of the whole document in the
			// worker every time, where the general path's loaded copy
			// lets the worker apply a stream of changes to its cached
			// one. A document that keeps changing takes that path.
			return false, nil
		}
		// Vet what the store's next load will read: the stored document
		// followed by these changes, applied to nothing.
		base, err := cl.DocBytes(d.id)
		if err != nil {
			return false, nil
		}
		full := make([]byte, 0, len(base)+len(joined))
		full = append(append(full, base...), joined...)
		if err := e.cfg.Verify(p.id, d.id, nil, full); err != nil {
			return true, refused(d.id, "changes for %s rejected: %w", d.id, err)
		}
	}
	d.appendData, d.appendBase, d.appendHeads = joined, m.Heads, toChangeHashes(heads)
	if !p.trusted {
		d.forwardedAt = e.tick + 1
	}
	e.grew(d)

	s.agreed = heads
	s.state = wire.EncodeSyncState(heads)
	s.persistNext = s.state
	s.heard, s.theirEmpty = true, false
	s.setAwaiting(false)
	s.setMissing(false)
	if pm.Capabilities != nil {
		s.theirV2 = pm.Supports(wire.CapMessageV2)
	}
	e.touch(s)
	ack := &wire.SyncMessage{Version: wire.SyncV1, Heads: heads, Have: []wire.Have{{LastSync: heads}}, Capabilities: capsBoth}
	e.send(p, &wire.Message{Type: wire.TypeSync, DocumentID: d.id, Data: ack.Encode()})
	return true, nil
}

// Forwardable reports whether the fast-forward path would take a vetted
// sync message from peer as far as the engine's own state goes (the store's
// heads are checked when the message is stepped): a caller that prepares
// vetting ahead of Step prepares only what the engine will ask for.
func (e *Engine) Forwardable(from string, m *wire.Message) bool {
	p := e.peers[from]
	if p == nil || p.outpost == nil || p.trusted || m.Type != wire.TypeSync || p.rejected[m.DocumentID] {
		return false
	}
	if _, ok := e.cfg.Storage.(ChangeLog); !ok || e.cfg.Verify == nil {
		return false
	}
	d := e.docs[m.DocumentID]
	if d == nil {
		return true // read from the store when it arrives, loaded by nobody
	}
	if !d.known || d.doc != nil || d.create || d.createData != nil || d.appendData != nil || d.unsaved ||
		(d.forwardedAt != 0 && e.tick < d.forwardedAt-1+hotTicks) {
		return false
	}
	s := d.sessions[from]
	return s == nil || (s.ss == nil && s.fastHeads == nil)
}

func toWireHashes(hs []automerge.ChangeHash) []wire.Hash {
	out := make([]wire.Hash, len(hs))
	for i, h := range hs {
		out[i] = wire.Hash(h)
	}
	return out
}

func toChangeHashes(hs []wire.Hash) []automerge.ChangeHash {
	out := make([]automerge.ChangeHash, len(hs))
	for i, h := range hs {
		out[i] = automerge.ChangeHash(h)
	}
	return out
}
