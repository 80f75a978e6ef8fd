package synclink

import (
	"bytes"
	"crypto/sha256"
	"runtime"
	gosync "sync"

	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// Vetting changes from a peer that connected with a token costs a load of
// the document in a worker process (crdt/verify). The engine vets
// synchronously, one message at a time, so a reconnect that brings changes
// to a hundred documents would wait for a hundred loads in a row while the
// other cores idle. Before the loop steps through a batch of messages,
// prevet vets in parallel what the engine's fast-forward path (see
// crdt/sync/forward.go) will ask about: the stored document followed by
// the message's changes, applied to nothing. The verdicts are remembered
// by the SHA-256 of exactly those bytes, and Syncer.verify answers the
// engine's identical request from them.
//
// Only a passing verdict is remembered, and only for the very bytes that
// passed: Automerge is deterministic, so the same bytes applied to the same
// (empty) base cannot crash it later. Anything that differs by the time the
// engine asks (the document changed, the engine takes the general path
// with a loaded base) finds no verdict and is vetted as before; a failing
// message is vetted again by the engine, which rejects it.

// maxPrevet bounds the bytes one batch holds for vetting at once.
const maxPrevet = 64 << 20

// prevetted holds the verdicts of one batch: document id → the hash of the
// bytes that passed.
type prevetted map[string][32]byte

// prevet vets the fast-forward changes of the messages in evs, in
// parallel, and returns the passing verdicts.
func (l *loop) prevet(evs []event) prevetted {
	s := l.s
	cl, ok := s.store.(sync.ChangeLog)
	if s.opts.Verify == nil || !ok {
		return nil
	}
	type job struct {
		id   string
		full []byte
	}
	var jobs []job
	seen := map[string]bool{}
	total := 0
	for _, ev := range evs {
		if total > maxPrevet {
			break // the rest are vetted as the engine goes
		}
		if ev.kind != evMsg || ev.msg.Type != wire.TypeSync || ev.msg.DocumentID == "" || seen[ev.msg.DocumentID] {
			continue
		}
		if c := l.conns[ev.c.info.ID]; c != ev.c || !l.eng.Forwardable(c.info.ID, ev.msg) {
			continue
		}
		id := ev.msg.DocumentID
		seen[id] = true // a second message for it applies on top of the first
		pm, err := wire.ParseSyncMessage(ev.msg.Data)
		if err != nil || len(pm.Changes) == 0 || len(pm.Need) != 0 || len(pm.Have) != 1 {
			continue
		}
		m, err := s.store.Meta(id)
		if err != nil || !sync.SameAsHashes(m.Heads, pm.Have[0].LastSync) {
			continue
		}
		base, err := cl.DocBytes(id)
		if err != nil {
			continue
		}
		full := make([]byte, 0, len(base)+pm.ChangeBytes())
		full = append(append(full, base...), bytes.Join(pm.Changes, nil)...)
		jobs = append(jobs, job{id, full})
		total += len(full)
	}
	if len(jobs) < 2 {
		return nil // nothing to overlap: the engine vets it as it goes
	}
	out := make(prevetted, len(jobs))
	var mu gosync.Mutex
	var wg gosync.WaitGroup
	next := make(chan job, len(jobs))
	for _, j := range jobs {
		next <- j
	}
	close(next)
	// More goroutines than cores: the verifier routes each document to a
	// worker by its id, and two goroutines on one worker would leave the
	// other idle.
	for w := 0; w < min(4*runtime.GOMAXPROCS(0), len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if s.opts.Verify(j.id, nil, j.full) == nil {
					sum := sha256.Sum256(j.full)
					mu.Lock()
					out[j.id] = sum
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// take reports whether chunks (for a new base, nil) are exactly the bytes
// that passed for document id, and forgets the verdict.
func (p prevetted) take(id string, chunks []byte) bool {
	want, ok := p[id]
	if !ok {
		return false
	}
	delete(p, id)
	return sha256.Sum256(chunks) == want
}
