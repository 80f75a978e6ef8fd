package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outposthq/outpost/inference/llamaext"
)

type runnerConfig struct {
	threads, parallel, ctxSize, batch int
	memory                            int64
	exclusive                         func(context.Context) (func(), error)
}

// runner is one loaded model and the goroutine that decodes for it. All
// sequences on the model go through that goroutine: each step it gathers
// one token from every generating sequence and a chunk of every prompt
// still being read into a single llama_decode, so concurrent requests share
// the matrix multiplications instead of taking turns.
//
// Invariant: only the loop goroutine touches lctx, batch and the samplers'
// C state once a sequence is submitted.
type runner struct {
	name, path string
	meta       modelMeta
	memory     int64
	ctxSize    int
	parallel   int
	batchSize  int
	exclusive  func(context.Context) (func(), error) // nil: decode freely
	loadedAt   time.Time
	log        *slog.Logger

	model  *llama.Model
	lctx   *llama.Context
	cctx   unsafe.Pointer // lctx's C pointer; nil if the layout check failed
	pool   *llamaext.Pool // lctx's compute threads; nil if ggml's layout changed
	batch  *llama.Batch
	mask   *utf8Mask
	vocab  int
	eog    []int    // end-of-generation tokens, masked for IgnoreEOS requests
	isEOG  []bool   // by token id: is eog, without a call into C per sampled token
	pieces []string // each token's text, for grammars (see grammar.go) and output
	cands  []llama.TokenData

	submit    chan *sequence
	ctx       context.Context // ends with quit, for waits inside the loop
	cancel    context.CancelFunc
	quit      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	closeOnce sync.Once

	// Guarded by Engine.mu.
	users     int
	lastUsed  time.Time
	evicted   bool
	idleTimer *time.Timer
}

// sequence is one request's generation state.
type sequence struct {
	prompt    []int
	maxTokens int
	ignoreEOS bool
	sampler   *llama.SamplingContext
	grammar   *llama.Grammar // constrains sampling from Go (grammar.go); nil without a schema
	streaming bool           // wake the request for every piece of text, not only at the end
	cancelled atomic.Bool
	submitted time.Time

	// Owned by the loop goroutine.
	slot     int
	pos      int // next position in the sequence's KV cache
	next     int // index into prompt of the first token not yet decoded
	last     int // last sampled token, to decode next
	owes     int // UTF-8 continuation bytes the output still needs
	batchIdx int // where this sequence's logits are in the current batch
	nGen     int
	text     textStream // token bytes → text, ended by stop sequences

	mu        sync.Mutex
	out       strings.Builder // text not yet taken by the request
	finished  bool
	finish    string
	err       error
	admitted  time.Time
	first     time.Time // first token sampled
	generated int
	notify    chan struct{}
}

// push hands text and, once finished, how the sequence ended to the
// request. The request's goroutine is woken only when it has something to
// do: every piece for a streaming request, the end for the others. Waking
// it for each token would put a Go thread on a core in the middle of the
// next decode step, where ggml's threads wait for each other at every
// operation.
func (s *sequence) push(text string, generated bool, finish string, err error) {
	s.mu.Lock()
	s.out.WriteString(text)
	if generated {
		s.generated++
	}
	if finish != "" || err != nil {
		s.finished, s.finish, s.err = true, finish, err
	}
	wake := s.finished || (s.streaming && s.out.Len() > 0)
	s.mu.Unlock()
	if !wake {
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take returns the text produced since the last call and, once finished,
// how it ended.
func (s *sequence) take() (out string, finished bool, finish string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out = s.out.String()
	s.out.Reset()
	return out, s.finished, s.finish, s.err
}

func newRunner(name, path string, meta modelMeta, cfg runnerConfig, log *slog.Logger) (*runner, error) {
	model, err := llama.LoadModelFromFile(path, llama.ModelParams{UseMmap: true})
	if err != nil {
		return nil, fmt.Errorf("%w: llama.cpp could not load %s (see debug log)", ErrBadModel, path)
	}
	if model.NumVocab() != int(meta.vocab) {
		llama.FreeModel(model)
		return nil, fmt.Errorf("%w: vocabulary size %d, header says %d", ErrBadModel, model.NumVocab(), meta.vocab)
	}
	params := llama.NewContextParams(cfg.ctxSize*cfg.parallel, cfg.batch, cfg.parallel, cfg.threads, ml.FlashAttentionAuto, "")
	lctx, err := llama.NewContextWithModel(model, params)
	if err != nil {
		llama.FreeModel(model)
		return nil, fmt.Errorf("creating llama context: %w", err)
	}
	batch, err := llama.NewBatch(cfg.batch, cfg.parallel, 0)
	if err != nil {
		llamaext.Free(lctx)
		llama.FreeModel(model)
		return nil, err
	}
	r := &runner{
		name: name, path: path, meta: meta, memory: cfg.memory, ctxSize: cfg.ctxSize,
		parallel: cfg.parallel, batchSize: cfg.batch, exclusive: cfg.exclusive, loadedAt: time.Now(), log: log,
		model: model, lctx: lctx, batch: batch,
		submit: make(chan *sequence), quit: make(chan struct{}), done: make(chan struct{}),
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.vocab = model.NumVocab()
	r.cctx = llamaext.Ptr(lctx)
	if r.pool, err = llamaext.NewPool(lctx, cfg.threads); err != nil {
		log.Warn("decoding without a thread pool: every step starts its own threads", "model", name, "err", err)
	}
	r.pieces, r.isEOG = make([]string, r.vocab), make([]bool, r.vocab)
	for id := range r.pieces {
		r.pieces[id] = model.TokenToPiece(id)
		if r.isEOG[id] = model.TokenIsEog(id); r.isEOG[id] {
			r.eog = append(r.eog, id)
		}
	}
	if r.cctx != nil {
		r.mask = newUTF8Mask(r.pieces, func(id int) bool { return r.isEOG[id] })
	}
	go r.loop()
	return r, nil
}

// stop ends the loop, failing its sequences with ErrClosed. The model stays
// in memory: requests between acquire and enqueue may still be using it.
func (r *runner) stop() {
	r.stopOnce.Do(func() {
		r.cancel()
		close(r.quit)
		<-r.done
	})
}

// close stops the loop and frees the C memory. The caller guarantees that
// nobody uses the runner any more (Engine: evicted and no users).
func (r *runner) close() {
	r.stop()
	r.closeOnce.Do(func() {
		r.batch.Free()
		llamaext.Free(r.lctx)
		r.pool.Free() // after the context that computes on it
		llama.FreeModel(r.model)
	})
}

// enqueue hands a sequence to the loop.
func (r *runner) enqueue(s *sequence) error {
	select {
	case r.submit <- s:
		return nil
	case <-r.quit:
		return ErrClosed
	}
}

func (r *runner) loop() {
	defer close(r.done)
	slots := make([]*sequence, r.parallel)
	var waiting []*sequence
	active := func() bool {
		for _, s := range slots {
			if s != nil {
				return true
			}
		}
		return len(waiting) > 0
	}
	release := func(i int) {
		r.lctx.KvCacheSeqRm(i, -1, -1)
		slots[i] = nil
	}
	for {
		// Block only when there is nothing to decode.
		if !active() {
			select {
			case s := <-r.submit:
				waiting = append(waiting, s)
			case <-r.quit:
				return
			}
		}
	drain:
		for {
			select {
			case s := <-r.submit:
				waiting = append(waiting, s)
			case <-r.quit:
				for i, s := range slots {
					if s != nil {
						s.push("", false, "", ErrClosed)
						release(i)
					}
				}
				for _, s := range waiting {
					s.push("", false, "", ErrClosed)
				}
				return
			default:
				break drain
			}
		}
		// Drop cancelled sequences; admit waiting ones into free slots.
		for i, s := range slots {
			if s != nil && s.cancelled.Load() {
				s.push("", false, "", errCancelled)
				release(i)
			}
		}
		kept := waiting[:0]
		for _, s := range waiting {
			if s.cancelled.Load() {
				s.push("", false, "", errCancelled)
				continue
			}
			kept = append(kept, s)
		}
		waiting = kept
		for i := range slots {
			if slots[i] == nil && len(waiting) > 0 {
				s := waiting[0]
				waiting = waiting[1:]
				s.slot, s.pos, s.next = i, 0, 0
				s.mu.Lock()
				s.admitted = time.Now()
				s.mu.Unlock()
				slots[i] = s
			}
		}

		r.batch.Clear()
		n := 0
		for i, s := range slots {
			if s == nil {
				continue
			}
			s.batchIdx = -1
			if s.next < len(s.prompt) {
				end := min(len(s.prompt), s.next+r.batchSize)
				for ; s.next < end; s.next++ {
					r.batch.Add(s.prompt[s.next], nil, s.pos, s.next == len(s.prompt)-1, i)
					s.pos++
					n++
				}
				if s.next == len(s.prompt) {
					s.batchIdx = n - 1
				}
				continue
			}
			r.batch.Add(s.last, nil, s.pos, true, i)
			s.pos++
			s.batchIdx = n
			n++
		}
		if n == 0 {
			continue
		}
		if err := r.decode(); errors.Is(err, errStopped) {
			continue // the quit case above fails the sequences
		} else if err != nil {
			r.log.Error("llama_decode failed", "model", r.name, "err", err)
			for i, s := range slots {
				if s != nil {
					s.push("", false, "", fmt.Errorf("decode: %w", err))
					release(i)
				}
			}
			continue
		}
		for i, s := range slots {
			if s == nil || s.batchIdx < 0 {
				continue
			}
			if r.mask != nil {
				r.mask.apply(llamaext.Logits(r.cctx, s.batchIdx, r.vocab), s.owes)
			}
			if s.ignoreEOS {
				r.maskEOG(llamaext.Logits(r.cctx, s.batchIdx, r.vocab))
			}
			tok := s.sampler.Sample(r.lctx, s.batchIdx)
			if s.grammar != nil {
				var ok bool
				if tok, ok = r.grammarSample(s, tok); !ok {
					s.push("", false, "", errGrammarDeadEnd)
					release(i)
					continue
				}
			}
			s.sampler.Accept(tok, true)
			if r.mask != nil && tok >= 0 && tok < r.vocab {
				s.owes = r.mask.next(s.owes, tok)
			}
			if s.nGen == 0 {
				s.mu.Lock()
				s.first = time.Now()
				s.mu.Unlock()
			}
			if r.isEOG[tok] {
				s.push(s.text.flush(), false, "stop", nil)
				release(i)
				continue
			}
			s.nGen++
			s.last = tok
			text, stopped := s.text.write(r.pieces[tok])
			finish := ""
			switch {
			case stopped:
				finish = "stop"
			case s.nGen >= s.maxTokens || s.pos >= r.ctxSize:
				finish = "length"
				text += s.text.flush()
			}
			s.push(text, true, finish, nil)
			if finish != "" {
				release(i)
			}
		}
	}
}

// maskEOG keeps end tokens from being sampled (IgnoreEOS), unless they are
// all the UTF-8 mask left: llama.cpp's sampler aborts the process when no
// token has a finite logit.
func (r *runner) maskEOG(logits []float32) {
	for id, l := range logits {
		if !r.isEOG[id] && !math.IsInf(float64(l), -1) {
			for _, t := range r.eog {
				logits[t] = float32(math.Inf(-1))
			}
			return
		}
	}
}

var (
	errCancelled = errors.New("cancelled")
	errStopped   = errors.New("runner stopped")
)

// decode runs one llama_decode of the batch, inside the exclusive slot if
// there is one.
func (r *runner) decode() error {
	if r.exclusive != nil {
		release, err := r.exclusive(r.ctx)
		if err != nil {
			return errStopped
		}
		defer release()
	}
	return r.lctx.Decode(r.batch)
}
