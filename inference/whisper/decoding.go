package whisper

import (
	"bytes"
	"compress/zlib"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// decodingOptions are openai/whisper's DecodingOptions for one window.
type decodingOptions struct {
	multilingual bool
	language     string
	translate    bool
	temperature  float64
	sampleLen    int     // tokens to sample at most (n_text_ctx/2)
	bestOf       int     // candidates at temperature > 0
	beamSize     int     // beams at temperature 0; 0 = greedy
	patience     float64 // beam search patience (1 = plain)
	prompt       []int   // previous text, after <|startofprev|>
	noTimestamps bool
	rng          *rand.Rand
}

// decodingResult is one window's decoded text and its quality measures.
type decodingResult struct {
	tokens           []int // sampled tokens up to (excluding) <|endoftext|>
	text             string
	avgLogProb       float64
	noSpeechProb     float64
	temperature      float64
	compressionRatio float64
	steps            int // decoder steps run
}

// decodingTask holds what openai/whisper's DecodingTask derives from the
// options: the initial tokens and the logit filters.
type decodingTask struct {
	m           *Model
	gate        Gate
	opts        decodingOptions
	initial     []int
	sampleBegin int
	sotIndex    int
	nGroup      int
	suppress    []int // sorted ids always suppressed
	blank       []int // ids suppressed at the first sampled position
	maxInitTS   int   // index of the last allowed initial timestamp
}

func (m *Model) newDecodingTask(gate Gate, o decodingOptions, suppress []int) (*decodingTask, error) {
	tok := m.Tokenizer
	sp := tok.sp
	seq, err := tok.sotSequence(o.multilingual, o.language, o.translate)
	if err != nil {
		return nil, err
	}
	if o.noTimestamps {
		seq = append(seq, sp.noTimestamps)
	}
	var initial []int
	if len(o.prompt) > 0 {
		p := o.prompt
		if keep := m.Hparams.NTextCtx/2 - 1; len(p) > keep {
			p = p[len(p)-keep:]
		}
		initial = append(append([]int{sp.sotPrev}, p...), seq...)
	} else {
		initial = seq
	}
	t := &decodingTask{
		m: m, gate: gate, opts: o, initial: initial,
		sampleBegin: len(initial),
		sotIndex:    slices.Index(initial, sp.sot),
		nGroup:      1,
		suppress:    suppress,
		// precision 30 s / 1500 = 0.02 s; max_initial_timestamp 1.0 s.
		maxInitTS: 50,
	}
	if t.opts.rng == nil {
		t.opts.rng = rand.New(rand.NewPCG(0, 0))
	}
	switch {
	case o.temperature == 0 && o.beamSize > 1:
		t.nGroup = o.beamSize
	case o.temperature > 0 && o.bestOf > 1:
		t.nGroup = o.bestOf
	}
	space, err := tok.Encode(" ")
	if err == nil {
		t.blank = append(t.blank, space...)
	}
	t.blank = append(t.blank, sp.eot)
	return t, nil
}

// suppressTokens is openai/whisper's default suppress list ("-1"): the
// non-speech symbols plus the special tokens that must never be sampled.
func (tok *Tokenizer) suppressTokens() []int {
	sp := tok.sp
	ids := append(tok.nonSpeechTokens(), sp.transcribe, sp.translate, sp.sot, sp.sotPrev, sp.sotLM, sp.noSpeech)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// run decodes one window whose audio features are af.
func (t *decodingTask) run(ctx context.Context, af *audioFeatures) (*decodingResult, error) {
	m, sp, nv := t.m, t.m.Tokenizer.sp, t.m.Hparams.NVocab
	kv := m.newKVCache(t.nGroup)
	defer kv.close()

	// The initial tokens are the same for every sequence: decode them once
	// and copy the cache. The logits at <|startoftranscript|> give the
	// no-speech probability.
	logits, err := m.decode(ctx, t.gate, af, kv, [][]int{t.initial}, []int{t.sotIndex, len(t.initial) - 1})
	if err != nil {
		return nil, err
	}
	noSpeech := softmaxAt(logits[:nv], sp.noSpeech)
	if err := m.reorder(ctx, t.gate, kv, make([]int, t.nGroup)); err != nil {
		return nil, err
	}
	rows := make([][]float32, t.nGroup)
	for i := range rows {
		rows[i] = slices.Clone(logits[nv:])
	}

	tokens := make([][]int, t.nGroup)
	for i := range tokens {
		tokens[i] = slices.Clone(t.initial)
	}
	sum := make([]float64, t.nGroup)
	var search searcher
	if t.opts.temperature == 0 && t.opts.beamSize > 1 {
		search = newBeamSearch(t.opts.beamSize, t.opts.patience, sp.eot)
	} else {
		search = &sampler{temperature: t.opts.temperature, eot: sp.eot}
	}
	nCtx := m.Hparams.NTextCtx
	steps := 0
	for i := 0; i < t.opts.sampleLen; i++ {
		steps++
		if i > 0 {
			last := make([][]int, len(tokens))
			for s, seq := range tokens {
				last[s] = seq[len(seq)-1:]
			}
			all := make([]int, len(tokens))
			for s := range all {
				all[s] = s
			}
			if logits, err = m.decode(ctx, t.gate, af, kv, last, all); err != nil {
				return nil, err
			}
			for s := range rows {
				rows[s] = logits[s*nv : (s+1)*nv]
			}
		}
		infos := make([]rowInfo, len(rows))
		for s := range infos {
			infos[s].u = t.opts.rng.Float64() // drawn in order: reproducible
		}
		parallel(len(rows), func(s int) {
			infos[s].lse = t.filter(rows[s], tokens[s])
			search.prepare(rows[s], &infos[s])
		})
		var completed bool
		var src []int
		tokens, src, completed = search.update(tokens, rows, infos, sum)
		if src != nil {
			if err := m.reorder(ctx, t.gate, kv, src); err != nil {
				return nil, err
			}
		}
		if completed || len(tokens[0]) > nCtx {
			break
		}
	}

	cands, scores := search.finalize(tokens, sum)
	// Cut each candidate between the first sampled token and <|endoftext|>.
	for i, c := range cands {
		c = c[t.sampleBegin:]
		if e := slices.Index(c, sp.eot); e >= 0 {
			c = c[:e]
		}
		cands[i] = c
	}
	best := rank(cands, scores)
	text := strings.TrimSpace(m.Tokenizer.Decode(cands[best]))
	return &decodingResult{
		tokens:           cands[best],
		text:             text,
		avgLogProb:       scores[best] / float64(len(cands[best])+1),
		noSpeechProb:     noSpeech,
		temperature:      t.opts.temperature,
		compressionRatio: compressionRatio(text),
		steps:            steps,
	}, nil
}

// filter applies openai/whisper's logit filters to one sequence's logits
// (SuppressBlank, SuppressTokens and ApplyTimestampRules) and returns the
// log-sum-exp of the filtered logits, computed in one pass.
func (t *decodingTask) filter(logits []float32, seq []int) float64 {
	sp := t.m.Tokenizer.sp
	ninf := float32(math.Inf(-1))
	sampled := seq[t.sampleBegin:]
	first := len(sampled) == 0
	if first {
		for _, id := range t.blank {
			logits[id] = ninf
		}
	}
	for _, id := range t.suppress {
		logits[id] = ninf
	}
	if t.opts.noTimestamps {
		return logSumExp(logits)
	}
	tb := sp.timestampBegin
	logits[sp.noTimestamps] = ninf

	// Timestamps come in pairs, except directly before <|endoftext|>.
	lastTS := len(sampled) >= 1 && sampled[len(sampled)-1] >= tb
	penultTS := len(sampled) < 2 || sampled[len(sampled)-2] >= tb
	if lastTS {
		if penultTS {
			fill(logits[tb:], ninf) // must be text
		} else {
			fill(logits[:sp.eot], ninf) // must be a timestamp or the end
		}
	}
	// Timestamps never decrease, and each segment has a nonzero length.
	lastSeen := -1
	for _, id := range sampled {
		if id >= tb {
			lastSeen = id
		}
	}
	if lastSeen >= 0 {
		limit := lastSeen + 1
		if lastTS && !penultTS {
			limit = lastSeen
		}
		fill(logits[tb:limit], ninf)
	}
	if first {
		fill(logits[:tb], ninf) // start with a timestamp
		if last := tb + t.maxInitTS; last+1 < len(logits) {
			fill(logits[last+1:], ninf)
		}
	}
	// If the timestamps together are likelier than any text token, the
	// next token must be a timestamp: log Σ p(timestamps) > max log p(text)
	// compares the same way before normalisation.
	lseText, maxText := logSumExpMax(logits[:tb])
	lseTS, _ := logSumExpMax(logits[tb:])
	if lseTS > maxText {
		fill(logits[:tb], ninf)
		return lseTS
	}
	return logAddExp(lseText, lseTS)
}

// parallel runs f(0..n-1), concurrently when n > 1: the rows of a beam or
// best-of group are independent, and the CPU is otherwise idle between
// two decoder graphs.
func parallel(n int, f func(int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

func fill(s []float32, v float32) {
	for i := range s {
		s[i] = v
	}
}

// logSumExp is log Σ exp(x) in float64.
func logSumExp(x []float32) float64 {
	lse, _ := logSumExpMax(x)
	return lse
}

// logSumExpMax returns log Σ exp(x) and max(x).
func logSumExpMax(x []float32) (float64, float64) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	if math.IsInf(float64(mx), -1) {
		return float64(mx), float64(mx)
	}
	var s float64
	for _, v := range x {
		if v != float32(math.Inf(-1)) {
			s += math.Exp(float64(v - mx))
		}
	}
	return float64(mx) + math.Log(s), float64(mx)
}

func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	mx := max(a, b)
	return mx + math.Log(math.Exp(a-mx)+math.Exp(b-mx))
}

// softmaxAt returns softmax(x)[i].
func softmaxAt(x []float32, i int) float64 {
	return math.Exp(float64(x[i]) - logSumExp(x))
}

// compressionRatio is len(text) / len(zlib(text)), openai/whisper's
// repetition measure (Go's deflate at zlib's default level 6; its output
// can differ from C zlib's by a few bytes).
func compressionRatio(text string) float64 {
	if text == "" {
		return 0
	}
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, 6)
	w.Write([]byte(text))
	w.Close()
	return float64(len(text)) / float64(b.Len())
}
