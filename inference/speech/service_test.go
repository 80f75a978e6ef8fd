package speech

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// testModel writes one small random-weight model per test binary.
var testModel = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "speech-test-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "small.bin")
	return path, whispertest.WriteFile(path, whispertest.Small(), 1)
})

func TestMain(m *testing.M) {
	code := m.Run()
	if path, err := testModel(); err == nil {
		os.RemoveAll(filepath.Dir(path))
	}
	os.Exit(code)
}

func newService(t *testing.T, o Options) (*Service, *atomic.Int32) {
	t.Helper()
	path, err := testModel()
	if err != nil {
		t.Fatal(err)
	}
	var resolves atomic.Int32
	o.ModelPath = func(name string) (string, error) {
		resolves.Add(1)
		if name != "small" {
			return "", errors.New("no such model")
		}
		return path, nil
	}
	o.Threads = 1
	o.TempDir = t.TempDir()
	s := New(o)
	t.Cleanup(s.Close)
	return s, &resolves
}

var fast = whisper.Options{Language: "en", MaxTokens: 4, Temperatures: []float64{0}, WithoutTimestamps: true}

func clip(seconds float64) []float32 {
	return make([]float32, int(seconds*whisper.SampleRate))
}

func TestLoadOnceAndUnloadWhenIdle(t *testing.T) {
	unloaded := make(chan string, 1)
	s, resolves := newService(t, Options{IdleTimeout: 50 * time.Millisecond, OnUnload: func(n string) { unloaded <- n }})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Transcribe(t.Context(), "small", clip(1), fast, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := resolves.Load(); n != 1 {
		t.Errorf("model resolved %d times, want 1", n)
	}
	if st := s.Status(); len(st.Models) != 1 || !st.Models[0].Loaded || st.Models[0].InUse != 0 {
		t.Errorf("status %+v", st)
	}
	select {
	case name := <-unloaded:
		if name != "small" {
			t.Errorf("unloaded %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idle model not unloaded")
	}
	if st := s.Status(); len(st.Models) != 0 {
		t.Errorf("status after unload %+v", st)
	}
	// It loads again on demand.
	if _, err := s.Transcribe(t.Context(), "small", clip(1), fast, nil); err != nil {
		t.Fatal(err)
	}
	if n := resolves.Load(); n != 2 {
		t.Errorf("model resolved %d times, want 2", n)
	}
}

func TestExclusive(t *testing.T) {
	var held, turns atomic.Int32
	s, _ := newService(t, Options{Exclusive: func(ctx context.Context) (func(), error) {
		if !held.CompareAndSwap(0, 1) {
			t.Error("exclusive slot taken twice")
		}
		turns.Add(1)
		return func() { held.Store(0) }, nil
	}})
	if _, err := s.Transcribe(t.Context(), "small", clip(1), fast, nil); err != nil {
		t.Fatal(err)
	}
	if turns.Load() < 2 || held.Load() != 0 {
		t.Errorf("%d turns, held %d", turns.Load(), held.Load())
	}
}

func TestUnknownModelAndClosed(t *testing.T) {
	s, _ := newService(t, Options{})
	if _, err := s.Transcribe(t.Context(), "nope", clip(1), fast, nil); err == nil {
		t.Error("unknown model accepted")
	}
	s.Close()
	if _, err := s.Transcribe(t.Context(), "small", clip(1), fast, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// A short clip submitted while a long one runs finishes first: it waits for
// one graph of the long transcription, not for the rest of it.
func TestShortClipOvertakesLong(t *testing.T) {
	s, _ := newService(t, Options{})
	longStarted := make(chan struct{})
	var once sync.Once
	longDone := make(chan time.Time, 1)
	var longWindows atomic.Int32
	go func() {
		opts := fast
		opts.MaxTokens = 8
		_, err := s.Transcribe(t.Context(), "small", clip(8*30), opts, func(p whisper.Progress) {
			longWindows.Add(1)
			once.Do(func() { close(longStarted) })
		})
		if err != nil {
			t.Error(err)
		}
		longDone <- time.Now()
	}()
	<-longStarted
	if _, err := s.Transcribe(t.Context(), "small", clip(2), fast, nil); err != nil {
		t.Fatal(err)
	}
	shortDone := time.Now()
	atShort := longWindows.Load()
	end := <-longDone
	if !shortDone.Before(end) || atShort >= 8 {
		t.Errorf("short clip finished after %d of 8 long windows", atShort)
	}
	t.Logf("short clip done after %d of 8 long windows", atShort)
}

func TestCancel(t *testing.T) {
	s, _ := newService(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.Transcribe(ctx, "small", clip(5*30), fast, func(whisper.Progress) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := s.Status(); len(st.Jobs) != 0 {
		t.Errorf("jobs after cancel: %+v", st.Jobs)
	}
}

func TestSchedulerShortestFirst(t *testing.T) {
	var s scheduler
	holder := &job{remaining: 100}
	release, err := s.acquire(t.Context(), holder)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	var wg sync.WaitGroup
	start := func(name string, remaining float64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.acquire(t.Context(), &job{remaining: remaining})
			if err != nil {
				t.Error(err)
				return
			}
			order <- name
			r()
		}()
	}
	start("long", 3600)
	waitFor(t, func() bool { return s.waiting() == 1 })
	start("short", 5)
	waitFor(t, func() bool { return s.waiting() == 2 })
	// A cancelled waiter leaves the queue.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := s.acquire(ctx, &job{remaining: 1}); errc <- err }()
	waitFor(t, func() bool { return s.waiting() == 3 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	release()
	wg.Wait()
	close(order)
	var got []string
	for n := range order {
		got = append(got, n)
	}
	if len(got) != 2 || got[0] != "short" || got[1] != "long" {
		t.Errorf("order %v, want short before long", got)
	}
}

// waitFor polls a condition that has no channel to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
