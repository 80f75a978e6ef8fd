package speech

import (
	"context"
	"sync"
)

// scheduler hands out the single compute turn (each ggml graph uses every
// thread, so running two at once only slows both) to the waiting job with
// the least audio left: shortest remaining first, at the granularity of
// one graph (an encoder window or one decoding step). A short clip
// submitted during a long transcription therefore waits for at most one
// graph of the long one, never for its remaining windows.
type scheduler struct {
	mu struct {
		sync.Mutex
		busy    bool
		waiters []*waiter // unordered; few at a time
		seq     uint64
	}
}

type waiter struct {
	j     *job
	seq   uint64 // arrival order breaks ties
	ready chan struct{}
}

// job is one transcription's claim on the scheduler.
type job struct {
	mu        sync.Mutex
	remaining float64 // seconds of audio not yet transcribed
}

func (j *job) setRemaining(s float64) {
	j.mu.Lock()
	j.remaining = s
	j.mu.Unlock()
}

func (j *job) priority() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.remaining
}

// acquire blocks until j holds the turn or ctx ends.
func (s *scheduler) acquire(ctx context.Context, j *job) (release func(), err error) {
	s.mu.Lock()
	if !s.mu.busy && len(s.mu.waiters) == 0 {
		s.mu.busy = true
		s.mu.Unlock()
		return s.release, nil
	}
	s.mu.seq++
	w := &waiter{j: j, seq: s.mu.seq, ready: make(chan struct{})}
	s.mu.waiters = append(s.mu.waiters, w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return s.release, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while giving up: pass the turn on.
			s.releaseLocked()
		default:
			s.removeLocked(w)
		}
		return nil, ctx.Err()
	}
}

func (s *scheduler) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked()
}

// releaseLocked gives the turn to the best waiter, or frees it.
func (s *scheduler) releaseLocked() {
	if len(s.mu.waiters) == 0 {
		s.mu.busy = false
		return
	}
	best := 0
	bp := s.mu.waiters[0].j.priority()
	for i, w := range s.mu.waiters[1:] {
		p := w.j.priority()
		if p < bp || p == bp && w.seq < s.mu.waiters[best].seq {
			best, bp = i+1, p
		}
	}
	w := s.mu.waiters[best]
	s.removeLocked(w)
	s.mu.busy = true
	close(w.ready)
}

func (s *scheduler) removeLocked(w *waiter) {
	for i, x := range s.mu.waiters {
		if x == w {
			s.mu.waiters = append(s.mu.waiters[:i], s.mu.waiters[i+1:]...)
			return
		}
	}
}

// waiting returns the number of jobs waiting for a turn.
func (s *scheduler) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.waiters)
}
