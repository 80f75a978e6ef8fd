package cpuslot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestExclusive(t *testing.T) {
	s := New()
	var inside, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				release, err := s.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > peak.Load() {
					peak.Store(n)
				}
				inside.Add(-1)
				release()
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 1 {
		t.Fatalf("%d holders at once", p)
	}
}

func TestAcquireGivesUp(t *testing.T) {
	s := New()
	release, err := s.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire of a held slot: %v, want deadline exceeded", err)
	}
	release()
	// The abandoned wait must not have taken the slot.
	r2, err := s.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2()
}

func TestAcquireOfCancelledContextOnFreeSlot(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A free slot is taken even with a dead context: the fast path does
	// not look at ctx, and the caller's own check comes after.
	release, err := s.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release()
}
