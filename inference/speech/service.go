package speech

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/outposthq/outpost/inference/whisper"
)

// Options configure a Service.
type Options struct {
	// ModelPath resolves a model name to a whisper.cpp model file.
	ModelPath func(name string) (string, error)
	// Threads is the number of CPU threads per computation (default all).
	Threads int
	// IdleTimeout unloads a model unused for this long (default 5 min;
	// negative keeps models loaded until Close).
	IdleTimeout time.Duration
	// MaxLoaded caps the models kept in memory; the least recently used
	// idle one is unloaded to make room (default 2).
	MaxLoaded int
	// CacheDir keeps each model's GGUF copy between loads (recommended:
	// a directory under the node's data directory); without it every load
	// writes a temporary copy to TempDir (see whisper.LoadOptions).
	CacheDir string
	TempDir  string
	Logger   *slog.Logger
	// OnUnload, if set, is called after a model is unloaded.
	OnUnload func(name string)
	// Exclusive, if set, is held during each computation as well: give the
	// LLM engine and this service the same one so that they never run
	// ggml graphs at once (each uses every core, and ggml's threads spin at
	// barriers, so two at once are far slower than one after the other).
	Exclusive func(ctx context.Context) (release func(), err error)
}

// ErrClosed is returned by Transcribe after Close.
var ErrClosed = errors.New("speech: service closed")

// Service transcribes audio with Whisper models it keeps warm. It is safe
// for concurrent use.
type Service struct {
	opts   Options
	log    *slog.Logger
	sched  scheduler
	ctx    context.Context // ends at Close; loads run under it
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		closed bool
		models map[string]*entry
		jobs   map[*jobStatus]struct{}
	}
}

// entry is one model, loading or loaded.
type entry struct {
	name     string
	ready    chan struct{} // closed when the load has finished
	model    *whisper.Model
	err      error
	refs     int // transcriptions using it; guarded by Service.mu
	lastUsed time.Time
	timer    *time.Timer
}

type jobStatus struct {
	JobStatus
	j *job
}

// New returns a service; models load on first use.
func New(opts Options) *Service {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.MaxLoaded <= 0 {
		opts.MaxLoaded = 2
	}
	s := &Service{opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.models = map[string]*entry{}
	s.mu.jobs = map[*jobStatus]struct{}{}
	return s
}

// Transcribe transcribes 16 kHz mono samples with the named model, loading
// it if needed. progress (optional) is called after each 30 s window.
// opts.Gate and opts.Progress are set by the service.
func (s *Service) Transcribe(ctx context.Context, model string, samples []float32, opts whisper.Options, progress func(whisper.Progress)) (*whisper.Result, error) {
	e, err := s.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer s.release(e)

	duration := float64(len(samples)) / whisper.SampleRate
	js := &jobStatus{JobStatus: JobStatus{Model: model, Duration: duration, Started: time.Now()}, j: &job{remaining: duration}}
	s.mu.Lock()
	s.mu.jobs[js] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.jobs, js)
		s.mu.Unlock()
	}()

	opts.Gate = func(ctx context.Context) (func(), error) {
		release, err := s.sched.acquire(ctx, js.j)
		if err != nil || s.opts.Exclusive == nil {
			return release, err
		}
		shared, err := s.opts.Exclusive(ctx)
		if err != nil {
			release()
			return nil, err
		}
		return func() { shared(); release() }, nil
	}
	opts.Progress = func(p whisper.Progress) {
		js.j.setRemaining(p.Duration - p.Seconds)
		s.mu.Lock()
		js.Seconds = p.Seconds
		s.mu.Unlock()
		if progress != nil {
			progress(p)
		}
	}
	return e.model.Transcribe(ctx, samples, opts)
}

// acquire returns the loaded model, loading it on first use.
func (s *Service) acquire(ctx context.Context, name string) (*entry, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	e := s.mu.models[name]
	if e == nil {
		e = &entry{name: name, ready: make(chan struct{})}
		s.mu.models[name] = e
		go s.load(e)
	}
	e.refs++
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	s.mu.Unlock()

	select {
	case <-e.ready:
	case <-ctx.Done():
		s.release(e)
		return nil, ctx.Err()
	}
	if e.err != nil {
		s.release(e)
		return nil, e.err
	}
	return e, nil
}

// load runs under the service's context, not a caller's: other callers may
// be waiting for the same model.
func (s *Service) load(e *entry) {
	defer close(e.ready)
	var model *whisper.Model
	var err error
	if s.opts.ModelPath == nil {
		err = errors.New("speech: no ModelPath configured")
	} else if path, perr := s.opts.ModelPath(e.name); perr != nil {
		err = fmt.Errorf("speech: model %q: %w", e.name, perr)
	} else {
		start := time.Now()
		model, err = whisper.Load(s.ctx, path, whisper.LoadOptions{Threads: s.opts.Threads, TempDir: s.opts.TempDir, CacheDir: s.opts.CacheDir})
		if err == nil {
			s.log.Info("whisper model loaded", "model", e.name, "size", model.Hparams.SizeName(),
				"type", model.Hparams.FileType(), "elapsed", time.Since(start).Round(time.Millisecond))
		}
	}
	s.mu.Lock()
	e.model, e.err = model, err
	unloadNow := false
	switch {
	case err != nil:
		if s.mu.models[e.name] == e {
			// Forget the failure so that a later call tries again.
			delete(s.mu.models, e.name)
		}
	case s.mu.closed || s.mu.models[e.name] != e:
		// Closed while loading: whoever still waits unloads it on release.
		unloadNow = e.refs == 0
	case e.refs == 0 && s.opts.IdleTimeout > 0:
		// Every caller gave up while it loaded.
		e.timer = time.AfterFunc(s.opts.IdleTimeout, func() { s.unloadIfIdle(e) })
	}
	s.mu.Unlock()
	if unloadNow {
		s.unload(e, "closed")
		return
	}
	if err == nil {
		s.evictIdle(e)
	}
}

// evictIdle unloads least recently used idle models beyond MaxLoaded.
func (s *Service) evictIdle(keep *entry) {
	var victims []*entry
	s.mu.Lock()
	for len(s.mu.models) > s.opts.MaxLoaded {
		var lru *entry
		for _, e := range s.mu.models {
			if e == keep || e.refs > 0 || e.model == nil {
				continue
			}
			if lru == nil || e.lastUsed.Before(lru.lastUsed) {
				lru = e
			}
		}
		if lru == nil {
			break // everything else is in use; over the cap until released
		}
		s.removeLocked(lru)
		victims = append(victims, lru)
	}
	s.mu.Unlock()
	for _, e := range victims {
		s.unload(e, "evicted")
	}
}

func (s *Service) release(e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	e.lastUsed = time.Now()
	if e.refs > 0 || e.model == nil {
		return
	}
	if s.mu.closed || s.mu.models[e.name] != e {
		// Closed or evicted while in use: unload now.
		go s.unload(e, "released")
		return
	}
	if s.opts.IdleTimeout > 0 {
		e.timer = time.AfterFunc(s.opts.IdleTimeout, func() { s.unloadIfIdle(e) })
	}
}

func (s *Service) unloadIfIdle(e *entry) {
	s.mu.Lock()
	if e.refs > 0 || s.mu.models[e.name] != e {
		s.mu.Unlock()
		return
	}
	s.removeLocked(e)
	s.mu.Unlock()
	s.unload(e, "idle")
}

func (s *Service) removeLocked(e *entry) {
	delete(s.mu.models, e.name)
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

func (s *Service) unload(e *entry, why string) {
	e.model.Close()
	s.log.Info("whisper model unloaded", "model", e.name, "reason", why)
	if s.opts.OnUnload != nil {
		s.opts.OnUnload(e.name)
	}
}

// Close unloads every model; transcriptions still running finish first
// with their model, new ones fail with ErrClosed.
func (s *Service) Close() {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return
	}
	s.mu.closed = true
	s.cancel()
	var idle []*entry
	for _, e := range s.mu.models {
		if e.refs == 0 && e.model != nil {
			idle = append(idle, e)
		}
		s.removeLocked(e)
	}
	s.mu.Unlock()
	for _, e := range idle {
		s.unload(e, "closed")
	}
}

// Status is a snapshot for dashboards and logs.
type Status struct {
	Models []ModelStatus `json:"models"`
	Jobs   []JobStatus   `json:"jobs"`
	// Waiting is the number of transcriptions waiting for a compute turn.
	Waiting int `json:"waiting"`
}

// ModelStatus describes one loaded (or loading) model.
type ModelStatus struct {
	Name     string    `json:"name"`
	Loaded   bool      `json:"loaded"`
	InUse    int       `json:"in_use"`
	LastUsed time.Time `json:"last_used"`
}

// JobStatus describes one running transcription.
type JobStatus struct {
	Model    string    `json:"model"`
	Duration float64   `json:"duration"` // seconds of audio
	Seconds  float64   `json:"seconds"`  // seconds done
	Started  time.Time `json:"started"`
}

// Status returns the loaded models and running transcriptions.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st Status
	for _, e := range s.mu.models {
		st.Models = append(st.Models, ModelStatus{Name: e.name, Loaded: e.model != nil, InUse: e.refs, LastUsed: e.lastUsed})
	}
	for j := range s.mu.jobs {
		st.Jobs = append(st.Jobs, j.JobStatus)
	}
	slices.SortFunc(st.Models, func(a, b ModelStatus) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(st.Jobs, func(a, b JobStatus) int { return a.Started.Compare(b.Started) })
	st.Waiting = s.sched.waiting()
	return st
}
