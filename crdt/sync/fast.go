package sync

import (
	"bytes"
	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/wire"
	"slices"
)

// A cold sync moves thousands of whole documents to a peer that has none of
// them. Through Automerge's sync code each would be loaded (and saved) on
// the sending side and loaded twice on the receiving side (the engine's
// copy, then the store's); automerge-go's 2023 core takes milliseconds per
// load. The exchange is fully determined without any of that, so both
// sides do it by hand, producing exactly the messages and sync states
// Automerge would:
//
//   - The sender (fastSend) sends the saved document with its heads, as the
//     v2 message current Automerge sends to a peer that has nothing, and
//     remembers the heads it expects to hear back. The store hands out its
//     snapshot without loading the document (crdt.Store.Saved).
//   - The receiver (fastReceive) hands the chunk to the store as a new
//     document, which keeps it as its snapshot without loading it
//     (crdt.Store.CreateFromVetted), records the sender's heads as shared,
//     and acknowledges with the message Automerge would answer: those
//     heads, nothing needed, an empty bloom filter since them.
//   - The acknowledgement completes the sender's session (see receive).
//
// Anything unexpected falls back to the general path.

// fastSend offers a document whole to a peer that reported holding nothing
// of its collection.
func (e *Engine) fastSend(s *session) error {
	saved, m, err := e.cfg.Storage.Saved(s.d.id)
	if err != nil {
		return err
	}
	heads := make([]wire.Hash, len(m.Heads))
	for i, h := range m.Heads {
		heads[i] = wire.Hash(h)
	}
	msg := &wire.SyncMessage{Version: wire.SyncV2, Heads: sortHashes(heads), Have: []wire.Have{{}}, Changes: [][]byte{saved}, Capabilities: capsBoth}
	s.fastHeads = heads
	s.state = wire.EncodeSyncState(heads)
	s.theirV2, s.theirEmpty = true, true
	s.setAwaiting(true)
	e.send(s.p, &wire.Message{Type: wire.TypeSync, DocumentID: s.d.id, Data: msg.Encode(),
		Doc: &wire.DocInfo{Collection: m.Collection, Type: m.Type}})
	return nil
}

// fastReceive takes a whole document offered by an Outpost peer for a
// document this side does not have, if the message is exactly that. It
// reports whether it did.
func (e *Engine) fastReceive(d *docState, p *peer, m *wire.Message, pm *wire.SyncMessage) (bool, error) {
	if d.known || d.doc != nil || d.ask != nil || len(d.sessions) > 0 ||
		p.outpost == nil || m.Doc == nil || len(pm.Changes) != 1 || len(pm.Need) != 0 || len(pm.Heads) == 0 {
		return false, nil
	}
	chunk := pm.Changes[0]
	heads, err := wire.DocumentHeads(chunk)
	if err != nil || !wire.SameHeads(heads, pm.Heads) {
		return false, nil
	}
	if e.cfg.Verify != nil {
		if err := e.cfg.Verify(p.id, d.id, nil, chunk); err != nil {
			return true, refused(d.id, "document %s rejected: %w", d.id, err)
		}
	}
	s, err := e.session(d, p)
	if err != nil {
		return true, err
	}
	typ := m.Doc.Type
	if typ == "" {
		typ = e.cfg.DefaultType
	}
	d.known, d.create = true, true
	d.meta = Meta{ID: d.id, Collection: m.Doc.Collection, Type: typ}
	d.createData = chunk
	d.createHeads = make([]automerge.ChangeHash, len(heads))
	for i, h := range heads {
		d.createHeads[i] = automerge.ChangeHash(h)
	}
	e.grew(d)

	s.state = wire.EncodeSyncState(heads)
	s.persistNext = s.state
	s.agreed = heads
	s.heard, s.theirEmpty = true, false
	s.setMissing(false)
	if pm.Capabilities != nil {
		s.theirV2 = pm.Supports(wire.CapMessageV2)
	}
	e.touch(s)
	sorted := sortHashes(append([]wire.Hash(nil), heads...))
	ack := &wire.SyncMessage{Version: wire.SyncV1, Heads: sorted, Have: []wire.Have{{LastSync: sorted}}, Capabilities: capsBoth}
	e.send(p, &wire.Message{Type: wire.TypeSync, DocumentID: d.id, Data: ack.Encode()})
	return true, nil
}

func sortHashes(hs []wire.Hash) []wire.Hash {
	slices.SortFunc(hs, func(x, y wire.Hash) int { return bytes.Compare(x[:], y[:]) })
	return hs
}
