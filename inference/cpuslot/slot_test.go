package cpuslot

import (
	"context"
	"errors"
	"runtime"
	"strings"
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

// TestWaiterServedBeforeReacquire is the property the engines rely on: a
// decode loop that releases and at once asks again does not starve a
// transcription waiting for the slot.
func TestWaiterServedBeforeReacquire(t *testing.T) {
	s := New()
	release, _ := s.Acquire(context.Background())
	got := make(chan func())
	go func() {
		r, err := s.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	// Release only once the waiter is parked on the slot's channel.
	for !parkedInAcquire() {
		runtime.Gosched()
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx); err == nil {
		t.Fatal("re-acquired ahead of the waiting goroutine")
	}
	(<-got)()
}

// parkedInAcquire reports whether some goroutine is blocked in Acquire's
// select, read from the goroutine dump (the only place Go shows it).
func parkedInAcquire() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && strings.Contains(g, " [select") && strings.Contains(g, "cpuslot.(*Slot).Acquire") {
			return true
		}
	}
	return false
}
