package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ollama/ollama/llama"

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/llamaext"
)

// Options configure an Engine. Zero values pick the defaults in brackets.
type Options struct {
	Threads      int           // CPU threads per decode [all available: cpuslot.Threads]
	MemoryBudget int64         // bytes for all loaded models [3/4 of RAM; unlimited if unknown]
	IdleTimeout  time.Duration // unload a model unused this long [5m; negative: never]
	Parallel     int           // concurrent sequences per loaded model [4]
	ContextSize  int           // tokens per sequence, prompt + output [min(4096, trained)]
	BatchSize    int           // prompt tokens per sequence per decode step [512]
	Logger       *slog.Logger  // [slog.Default()]
	// Resolve maps a request's model name to a GGUF file. [the name is a path]
	Resolve func(name string) (path string, err error)
	// Exclusive, if set, is held around every decode step. Give the
	// engine and the speech service one cpuslot.Slot so that their ggml
	// thread pools never compute at once.
	Exclusive func(ctx context.Context) (release func(), err error)
}

// LoadedModel describes a model held in memory.
type LoadedModel struct {
	Name        string
	Path        string
	Memory      int64 // estimated resident bytes (weights + KV cache + buffers)
	ContextSize int   // per sequence
	Parallel    int
	Active      int // requests running or queued on it
	LoadedAt    time.Time
	LastUsed    time.Time
}

// Engine serves generations from models it loads on demand. It is safe for
// concurrent use; requests to the same model share one loaded copy.
type Engine struct {
	opts Options
	log  *slog.Logger

	mu struct {
		sync.Mutex
		closed  bool
		models  map[string]*runner // loaded, by name
		loading map[string]*loadOp // being loaded, by name
		// changed is closed (and replaced) whenever memory may have been
		// freed, to wake requests waiting for room.
		changed chan struct{}
	}
}

type loadOp struct {
	done   chan struct{}
	memory int64
	err    error
}

// New makes an engine. It loads nothing until the first request.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if n := cpuslot.Threads(opts.Threads); n != opts.Threads {
		if opts.Threads > 0 {
			opts.Logger.Warn("more threads than CPUs would stall every decode step; using fewer", "threads", opts.Threads, "cpus", n)
		}
		opts.Threads = n
	}
	if opts.MemoryBudget == 0 {
		opts.MemoryBudget = defaultBudget()
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 5 * time.Minute
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 512
	}
	if opts.Resolve == nil {
		opts.Resolve = func(name string) (string, error) { return name, nil }
	}
	llama.BackendInit()
	llamaext.RouteLogs()
	e := &Engine{opts: opts, log: opts.Logger}
	e.mu.models = map[string]*runner{}
	e.mu.loading = map[string]*loadOp{}
	e.mu.changed = make(chan struct{})
	return e
}

// Loaded lists the models in memory.
func (e *Engine) Loaded() []LoadedModel {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []LoadedModel
	for _, r := range e.mu.models {
		out = append(out, LoadedModel{
			Name: r.name, Path: r.path, Memory: r.memory, ContextSize: r.ctxSize, Parallel: r.parallel,
			Active: r.users, LoadedAt: r.loadedAt, LastUsed: r.lastUsed,
		})
	}
	slices.SortFunc(out, func(a, b LoadedModel) int { return a.LoadedAt.Compare(b.LoadedAt) })
	return out
}

// Unload removes a model from memory: at once if it is idle, otherwise when
// its running requests finish. New requests for it load it again.
func (e *Engine) Unload(name string) {
	e.mu.Lock()
	r := e.mu.models[name]
	if r != nil {
		delete(e.mu.models, name)
		r.evicted = true
	}
	e.mu.Unlock()
	if r != nil {
		e.maybeClose(r)
	}
}

// Close unloads every model, failing running requests with ErrClosed. A
// model still referenced by a request is freed when that request returns.
func (e *Engine) Close() {
	e.mu.Lock()
	e.mu.closed = true
	var idle, busy []*runner
	for name, r := range e.mu.models {
		delete(e.mu.models, name)
		r.evicted = true
		if r.idleTimer != nil {
			r.idleTimer.Stop()
		}
		if r.users == 0 {
			idle = append(idle, r)
		} else {
			busy = append(busy, r)
		}
	}
	e.signalLocked()
	e.mu.Unlock()
	for _, r := range idle {
		r.close()
	}
	for _, r := range busy {
		r.stop() // freed by the last release
	}
}

func (e *Engine) signalLocked() {
	close(e.mu.changed)
	e.mu.changed = make(chan struct{})
}

func (e *Engine) usedLocked() int64 {
	var n int64
	for _, r := range e.mu.models {
		n += r.memory
	}
	for _, l := range e.mu.loading {
		n += l.memory
	}
	return n
}

// acquire returns the loaded runner for name, loading it if needed, and
// counts the caller as a user until release. It evicts idle models (least
// recently used first) when the budget needs room, and waits for busy ones
// to become idle.
func (e *Engine) acquire(ctx context.Context, name string) (*runner, time.Duration, error) {
	start := time.Now()
	for {
		e.mu.Lock()
		if e.mu.closed {
			e.mu.Unlock()
			return nil, 0, ErrClosed
		}
		if r := e.mu.models[name]; r != nil {
			r.users++
			r.lastUsed = time.Now()
			if r.idleTimer != nil {
				r.idleTimer.Stop()
			}
			e.mu.Unlock()
			return r, 0, nil
		}
		if l := e.mu.loading[name]; l != nil {
			e.mu.Unlock()
			select {
			case <-l.done:
				if l.err != nil {
					return nil, 0, l.err
				}
				continue
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
		}
		e.mu.Unlock()
		r, err := e.load(ctx, name)
		if errors.Is(err, errRetry) {
			continue
		}
		return r, time.Since(start), err
	}
}

var errRetry = errors.New("retry")

func (e *Engine) load(ctx context.Context, name string) (*runner, error) {
	path, err := e.opts.Resolve(name)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	meta, err := readMeta(path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	ctxSize := e.opts.ContextSize
	if ctxSize <= 0 {
		ctxSize = 4096
		if meta.ctxTrain > 0 && meta.ctxTrain < uint64(ctxSize) {
			ctxSize = int(meta.ctxTrain)
		}
	}
	batch := min(e.opts.BatchSize, ctxSize)
	need := meta.memoryEstimate(ctxSize, e.opts.Parallel, batch)
	budget := e.opts.MemoryBudget
	if budget > 0 && need > budget {
		return nil, fmt.Errorf("%w: model %q needs about %s (weights %s + KV cache and buffers for %d×%d tokens), memory budget is %s",
			ErrModelTooLarge, name, formatBytes(need), formatBytes(meta.fileSize), e.opts.Parallel, ctxSize, formatBytes(budget))
	}

	// Reserve memory, evicting idle models, or wait for one to go idle.
	var victims []*runner
	e.mu.Lock()
	for {
		if e.mu.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		if e.mu.models[name] != nil || e.mu.loading[name] != nil {
			e.mu.Unlock()
			return nil, errRetry // someone else loaded it meanwhile
		}
		if budget <= 0 || e.usedLocked()+need <= budget {
			break
		}
		var lru *runner
		for _, r := range e.mu.models {
			if r.users == 0 && (lru == nil || r.lastUsed.Before(lru.lastUsed)) {
				lru = r
			}
		}
		if lru != nil {
			delete(e.mu.models, lru.name)
			lru.evicted = true
			victims = append(victims, lru)
			continue
		}
		changed := e.mu.changed
		e.mu.Unlock()
		e.log.Info("waiting for memory to load model", "model", name, "need", formatBytes(need))
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		e.mu.Lock()
	}
	op := &loadOp{done: make(chan struct{}), memory: need}
	e.mu.loading[name] = op
	e.mu.Unlock()

	for _, v := range victims {
		e.log.Info("unloading model to make room", "model", v.name, "for", name)
		v.close()
	}
	t0 := time.Now()
	r, err := newRunner(name, path, meta, runnerConfig{
		threads: e.opts.Threads, parallel: e.opts.Parallel, ctxSize: ctxSize, batch: batch, memory: need,
		exclusive: e.opts.Exclusive,
	}, e.log)
	e.mu.Lock()
	delete(e.mu.loading, name)
	if err == nil && e.mu.closed {
		err = ErrClosed
		defer r.close()
	}
	if err != nil {
		op.err = fmt.Errorf("model %q: %w", name, err)
		e.signalLocked()
		close(op.done)
		e.mu.Unlock()
		return nil, op.err
	}
	r.users = 1
	r.lastUsed = time.Now()
	e.mu.models[name] = r
	close(op.done)
	e.mu.Unlock()
	e.log.Info("model loaded", "model", name, "path", path, "memory", formatBytes(need),
		"context", ctxSize, "parallel", e.opts.Parallel, "took", time.Since(t0).Round(time.Millisecond))
	if meta.randomWeights {
		e.log.Warn("model has random weights: output is gibberish", "model", name)
	}
	return r, nil
}

// release ends a use of r started by acquire.
func (e *Engine) release(r *runner) {
	e.mu.Lock()
	r.users--
	r.lastUsed = time.Now()
	idle := r.users == 0
	if idle && !r.evicted && e.opts.IdleTimeout > 0 {
		if r.idleTimer == nil {
			r.idleTimer = time.AfterFunc(e.opts.IdleTimeout, func() { e.unloadIdle(r) })
		} else {
			r.idleTimer.Reset(e.opts.IdleTimeout)
		}
	}
	e.signalLocked()
	e.mu.Unlock()
	if idle {
		e.maybeClose(r)
	}
}

func (e *Engine) unloadIdle(r *runner) {
	e.mu.Lock()
	if r.users > 0 || r.evicted || time.Since(r.lastUsed) < e.opts.IdleTimeout {
		e.mu.Unlock()
		return
	}
	delete(e.mu.models, r.name)
	r.evicted = true
	e.signalLocked()
	e.mu.Unlock()
	e.log.Info("unloading idle model", "model", r.name)
	r.close()
}

// maybeClose frees an evicted runner once nobody uses it.
func (e *Engine) maybeClose(r *runner) {
	e.mu.Lock()
	doit := r.evicted && r.users == 0
	if doit {
		e.signalLocked()
	}
	e.mu.Unlock()
	if doit {
		r.close()
	}
}
