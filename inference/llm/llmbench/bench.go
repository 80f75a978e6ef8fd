package llmbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/gguf"
	"github.com/outposthq/outpost/inference/llamaext"
	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/randllama"
)

// Options select what to measure.
type Options struct {
	Models       []string // randllama presets, e.g. "25M", "300M"
	Quants       []string // "q8_0", "q4_0", "f16"
	Threads      int      // [all available; more are cut to that: cpuslot.Threads]
	PromptTokens int      // [256]
	GenTokens    int      // [128]
	Repeat       int      // timed runs per measurement; ratios are medians of paired runs [9; 15 for models under 100M parameters]
	Concurrent   int      // requests in the concurrency measurement [4]
	ContextSize  int      // tokens per sequence [2048]
	Dir          string   // where generated models are cached [$TMPDIR/outpost-bench-llm]
	Progress     func(format string, args ...any)
}

// Result is one JSON line.
type Result struct {
	Bench        string  `json:"bench"`
	Kind         string  `json:"kind"` // "rate", "api_vs_bare" or "concurrency"
	Model        string  `json:"model"`
	Params       uint64  `json:"params"`
	Quant        string  `json:"quant"`
	Threads      int     `json:"threads"`
	Path         string  `json:"path,omitempty"` // "api" or "bare" for kind "rate"
	PromptTokens int     `json:"prompt_tokens,omitempty"`
	PromptTokS   float64 `json:"prompt_tok_s,omitempty"` // best of the runs
	GenTokens    int     `json:"gen_tokens,omitempty"`
	GenTokS      float64 `json:"gen_tok_s,omitempty"` // best of the runs
	PromptMedian float64 `json:"prompt_tok_s_median,omitempty"`
	GenMedian    float64 `json:"gen_tok_s_median,omitempty"`

	PromptRatio float64 `json:"prompt_ratio,omitempty"` // median of paired api/bare runs
	GenRatio    float64 `json:"gen_ratio,omitempty"`    // median of paired api/bare runs

	Requests     int     `json:"requests,omitempty"`
	SingleTokS   float64 `json:"single_total_tok_s,omitempty"`
	ParallelTokS float64 `json:"parallel_total_tok_s,omitempty"`
	Speedup      float64 `json:"speedup,omitempty"` // median of paired parallel/single runs
	// The same measurement on the bare loop, decoding the sequences in one
	// batch per step: how much batching itself gains on this model and
	// machine, the ceiling for Speedup.
	BareSingleTokS   float64 `json:"bare_single_total_tok_s,omitempty"`
	BareParallelTokS float64 `json:"bare_parallel_total_tok_s,omitempty"`
	BareSpeedup      float64 `json:"bare_speedup,omitempty"`

	Goal float64 `json:"goal,omitempty"`
	Met  *bool   `json:"met,omitempty"`
}

func (o *Options) defaults() {
	if len(o.Models) == 0 {
		o.Models = []string{"25M", "300M"}
	}
	if len(o.Quants) == 0 {
		o.Quants = []string{"q8_0", "q4_0"}
	}
	o.Threads = cpuslot.Threads(o.Threads)
	if o.PromptTokens <= 0 {
		o.PromptTokens = 256
	}
	if o.GenTokens <= 1 {
		o.GenTokens = 128
	}
	if o.Concurrent <= 1 {
		o.Concurrent = 4
	}
	if o.ContextSize <= 0 {
		o.ContextSize = 2048
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(os.TempDir(), "outpost-bench-llm")
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
}

// Run measures every model × quant and calls emit for each result.
func Run(ctx context.Context, o Options, emit func(Result)) error {
	o.defaults()
	if o.PromptTokens+o.GenTokens+8 > o.ContextSize {
		return fmt.Errorf("llmbench: prompt %d + generation %d tokens exceed the context of %d", o.PromptTokens, o.GenTokens, o.ContextSize)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	llama.BackendInit()
	for _, size := range o.Models {
		for _, q := range o.Quants {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := runOne(ctx, o, size, q, emit); err != nil {
				return fmt.Errorf("llmbench %s %s: %w", size, q, err)
			}
		}
	}
	return nil
}

// model returns the cached benchmark model for size and quant, writing it
// first if needed.
func model(o Options, size, quant string) (string, randllama.Config, error) {
	cfg, err := randllama.Preset(size)
	if err != nil {
		return "", cfg, err
	}
	if cfg.Type, err = gguf.ParseTensorType(quant); err != nil {
		return "", cfg, err
	}
	cfg.Seed = 1
	path := filepath.Join(o.Dir, fmt.Sprintf("random-llama-%s-%s.gguf", size, strings.ToLower(cfg.Type.String())))
	if _, err := gguf.ReadFile(path); err == nil {
		return path, cfg, nil
	}
	o.Progress("writing %s (%s parameters)", path, randllama.CountString(cfg.Params()))
	return path, cfg, randllama.WriteFile(path, cfg)
}

func runOne(ctx context.Context, o Options, size, quant string, emit func(Result)) error {
	path, cfg, err := model(o, size, quant)
	if err != nil {
		return err
	}
	base := Result{Bench: "llm", Model: size, Params: cfg.Params(), Quant: cfg.Type.String(), Threads: o.Threads}
	if o.Repeat <= 0 {
		// A run's rate swings by tens of percent with whatever else the
		// cores do in that moment (on a shared VM, from second to second),
		// so a ratio needs several pairs; a small model's sub-second runs
		// make more of them cheap.
		o.Repeat = 9
		if cfg.Params() < 100_000_000 {
			o.Repeat = 15
		}
	}

	// The engine first: it routes llama.cpp's logging away from stderr.
	eng := llm.New(llm.Options{Threads: o.Threads, ContextSize: o.ContextSize, Parallel: o.Concurrent, IdleTimeout: -1})
	defer eng.Close()
	bare, err := newBare(path, o)
	if err != nil {
		return err
	}
	defer bare.close()
	prompt := bare.promptText(o.PromptTokens)
	// IgnoreEOS: a random model samples its end token now and then, and a
	// request that ends early would time fewer tokens than the bare loop
	// (which never stops) or, below, leave fewer than N requests sharing
	// the steps.
	req := llm.Request{Model: path, Prompt: prompt, MaxTokens: o.GenTokens, Temperature: 0.8, TopK: 40, TopP: 0.95, IgnoreEOS: true}

	// Warm up both paths (page the weights in, build compute graphs).
	o.Progress("%s %s: warming up", size, quant)
	bare.run(prompt, 16, 1)
	if _, err := eng.Generate(ctx, llm.Request{Model: path, Prompt: prompt, MaxTokens: 16}, nil); err != nil {
		return err
	}

	// Interleave bare and API runs so drift in machine load hits both.
	var bp, bg, ap, ag []float64
	var apiPrompt, apiGen int
	for i := 0; i < o.Repeat; i++ {
		o.Progress("%s %s: run %d/%d", size, quant, i+1, o.Repeat)
		np, pd, ng, gd := bare.run(prompt, o.GenTokens, uint32(i+1))
		bp = append(bp, float64(np)/pd.Seconds())
		bg = append(bg, float64(ng-1)/gd.Seconds())
		req.Seed = int64(i + 1)
		resp, err := eng.Generate(ctx, req, nil)
		if err != nil {
			return err
		}
		apiPrompt, apiGen = resp.PromptTokens, resp.CompletionTokens
		ap = append(ap, float64(resp.PromptTokens)/resp.Timings.Prompt.Seconds())
		ag = append(ag, float64(resp.CompletionTokens-1)/resp.Timings.Generate.Seconds())
	}
	br := base
	br.Kind, br.Path, br.PromptTokens, br.PromptTokS, br.GenTokens, br.GenTokS = "rate", "bare", len(bare.tokens(prompt)), best(bp), o.GenTokens, best(bg)
	br.PromptMedian, br.GenMedian = median(bp), median(bg)
	emit(br)
	ar := base
	ar.Kind, ar.Path, ar.PromptTokens, ar.PromptTokS, ar.GenTokens, ar.GenTokS = "rate", "api", apiPrompt, best(ap), apiGen, best(ag)
	ar.PromptMedian, ar.GenMedian = median(ap), median(ag)
	emit(ar)
	cmp := base
	cmp.Kind = "api_vs_bare"
	cmp.PromptRatio, cmp.GenRatio, cmp.Goal = pairedRatio(ap, bp), pairedRatio(ag, bg), 0.95
	met := cmp.PromptRatio >= cmp.Goal && cmp.GenRatio >= cmp.Goal
	cmp.Met = &met
	emit(cmp)

	// Concurrency: total generation rate of N simultaneous requests
	// against one, short prompts so generation dominates.
	short := bare.promptText(32)
	var single, parallel, bareSingle, bareParallel []float64
	for i := 0; i < o.Repeat; i++ {
		o.Progress("%s %s: concurrency run %d/%d", size, quant, i+1, o.Repeat)
		r1, err := concurrentRate(ctx, eng, path, short, o.GenTokens, 1, i)
		if err != nil {
			return err
		}
		rn, err := concurrentRate(ctx, eng, path, short, o.GenTokens, o.Concurrent, i)
		if err != nil {
			return err
		}
		single, parallel = append(single, r1), append(parallel, rn)
		bareSingle = append(bareSingle, bare.batchedRate(short, o.GenTokens, 1, uint32(100*i+1)))
		bareParallel = append(bareParallel, bare.batchedRate(short, o.GenTokens, o.Concurrent, uint32(100*i+1)))
	}
	cc := base
	cc.Kind, cc.Requests, cc.GenTokens = "concurrency", o.Concurrent, o.GenTokens
	cc.SingleTokS, cc.ParallelTokS = best(single), best(parallel)
	cc.BareSingleTokS, cc.BareParallelTokS = best(bareSingle), best(bareParallel)
	cc.BareSpeedup = pairedRatio(bareParallel, bareSingle)
	cc.Speedup, cc.Goal = pairedRatio(parallel, single), 2
	met2 := cc.Speedup >= cc.Goal
	cc.Met = &met2
	emit(cc)
	return nil
}

// concurrentRate runs n requests at once and returns generated tokens per
// second of wall time, all requests together.
func concurrentRate(ctx context.Context, eng *llm.Engine, path, prompt string, gen, n, run int) (float64, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	var firstErr error
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := eng.Generate(ctx, llm.Request{
				Model: path, Prompt: prompt, MaxTokens: gen, Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: int64(100*run + i), IgnoreEOS: true,
			}, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			total += resp.CompletionTokens
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// pairedRatio is the median of a[i]/b[i]. Runs i of a and b are adjacent in
// time, so load that drifts over seconds hits both sides of each ratio.
func pairedRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return median(r)
}

// best is the fastest run: on a machine shared with other work, the least
// disturbed run is the closest estimate of what the code can do.
func best(xs []float64) float64 { return slices.Max(xs) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// bare is the baseline: llama.cpp driven directly through the llama
// package with the engine's context parameters (a KV stream per sequence,
// the same persistent thread pool) and sampler parameters, so that the
// comparison measures the engine's own work.
type bare struct {
	model *llama.Model
	lctx  *llama.Context
	pool  *llamaext.Pool
	batch *llama.Batch
	size  int
}

func newBare(path string, o Options) (*bare, error) {
	m, err := llama.LoadModelFromFile(path, llama.ModelParams{UseMmap: true})
	if err != nil {
		return nil, err
	}
	const batch = 512
	lctx, err := llama.NewContextWithModel(m, llama.NewContextParams(o.ContextSize*o.Concurrent, batch, o.Concurrent, o.Threads, ml.FlashAttentionAuto, ""))
	if err != nil {
		llama.FreeModel(m)
		return nil, err
	}
	b := &bare{model: m, lctx: lctx, size: batch}
	if b.pool, err = llamaext.NewPool(lctx, o.Threads); err != nil {
		b.close()
		return nil, err
	}
	if b.batch, err = llama.NewBatch(batch, o.Concurrent, 0); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bare) close() {
	if b.batch != nil {
		b.batch.Free()
	}
	llamaext.Free(b.lctx)
	b.pool.Free()
	llama.FreeModel(b.model)
}

func (b *bare) tokens(text string) []int {
	t, _ := b.model.Tokenize(text, true, true)
	return t
}

// promptText returns text that tokenizes to at least n tokens.
func (b *bare) promptText(n int) string {
	const sentence = "The patient reports fever and pain for three days, blood pressure normal, plan follow up in one week. "
	text := sentence
	for len(b.tokens(text)) < n {
		text += sentence
	}
	// Trim word by word to get close to n.
	words := strings.Fields(text)
	for len(words) > 1 && len(b.tokens(strings.Join(words[:len(words)-1], " "))) >= n {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// run decodes the tokenized text and generates gen tokens, returning the
// prompt tokens and time up to the first sampled token, and the generated
// tokens and the time after it (the engine's Timings split the same way).
func (b *bare) run(text string, gen int, seed uint32) (int, time.Duration, int, time.Duration) {
	b.lctx.KvCacheSeqRm(0, -1, -1)
	prompt := b.tokens(text)
	s := b.sampler(seed)
	start := time.Now()
	pos := 0
	last := 0
	for i := 0; i < len(prompt); i += b.size {
		b.batch.Clear()
		end := min(len(prompt), i+b.size)
		for j := i; j < end; j++ {
			b.batch.Add(prompt[j], nil, pos, j == len(prompt)-1, 0)
			pos++
		}
		if err := b.lctx.Decode(b.batch); err != nil {
			panic(err)
		}
		last = end - i - 1
	}
	tok := s.Sample(b.lctx, last)
	s.Accept(tok, true)
	promptDur := time.Since(start)
	start = time.Now()
	for n := 1; n < gen; n++ {
		b.batch.Clear()
		b.batch.Add(tok, nil, pos, true, 0)
		pos++
		if err := b.lctx.Decode(b.batch); err != nil {
			panic(err)
		}
		tok = s.Sample(b.lctx, 0)
		s.Accept(tok, true)
	}
	return len(prompt), promptDur, gen, time.Since(start)
}

func (b *bare) sampler(seed uint32) *llama.SamplingContext {
	s, err := llama.NewSamplingContext(b.model, llama.SamplingParams{
		TopK: 40, TopP: 0.95, TypicalP: 1, Temp: 0.8, RepeatLastN: 64, PenaltyRepeat: 1, Seed: seed,
	})
	if err != nil {
		panic(errors.New("llmbench: sampler"))
	}
	return s
}

// batchedRate runs n sequences of the same prompt side by side, every step
// one batch holding a token of each (their prompts first, together), and
// returns generated tokens per second of wall time, as concurrentRate
// measures the engine.
func (b *bare) batchedRate(text string, gen, n int, seed uint32) float64 {
	prompt := b.tokens(text)
	samplers := make([]*llama.SamplingContext, n)
	for i := range samplers {
		b.lctx.KvCacheSeqRm(i, -1, -1)
		samplers[i] = b.sampler(seed + uint32(i))
	}
	start := time.Now()
	b.batch.Clear()
	for i := 0; i < n; i++ {
		for j, t := range prompt {
			b.batch.Add(t, nil, j, j == len(prompt)-1, i)
		}
	}
	if err := b.lctx.Decode(b.batch); err != nil {
		panic(err)
	}
	toks := make([]int, n)
	for i := range toks {
		toks[i] = samplers[i].Sample(b.lctx, (i+1)*len(prompt)-1)
		samplers[i].Accept(toks[i], true)
	}
	for step := 1; step < gen; step++ {
		b.batch.Clear()
		for i, t := range toks {
			b.batch.Add(t, nil, len(prompt)+step-1, true, i)
		}
		if err := b.lctx.Decode(b.batch); err != nil {
			panic(err)
		}
		for i := range toks {
			toks[i] = samplers[i].Sample(b.lctx, i)
			samplers[i].Accept(toks[i], true)
		}
	}
	return float64(n*gen) / time.Since(start).Seconds()
}
