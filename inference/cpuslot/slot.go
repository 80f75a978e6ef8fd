package cpuslot

import "context"

// Slot is a first-come, first-served lock whose waiters can give up. The
// zero value is not usable; use New.
type Slot struct {
	ch chan struct{}
}

// New returns a free slot.
func New() *Slot { return &Slot{ch: make(chan struct{}, 1)} }

// Acquire waits until the slot is free or ctx ends. The caller must call
// release exactly once. Goroutines blocked on a channel send are woken in
// arrival order, so no caller waits behind one that came later.
func (s *Slot) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.ch <- struct{}{}:
		return s.release, nil
	default:
	}
	select {
	case s.ch <- struct{}{}:
		return s.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Slot) release() { <-s.ch }
