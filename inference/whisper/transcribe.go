package whisper

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Options control a transcription. The zero value is openai/whisper's
// transcribe() default: detect the language, transcribe with timestamps,
// greedy decoding with temperature fallback 0, 0.2, ... 1.0.
type Options struct {
	// Language is a code ("de") or name ("German"); empty detects it on
	// multilingual models (English-only models always use English).
	Language string
	// Translate produces English text (multilingual models only).
	Translate bool
	// Prompt is text that conditions the first window (initial_prompt).
	Prompt string
	// BeamSize > 1 uses beam search at temperature 0.
	BeamSize int
	// Patience scales the number of finished beams waited for (default 1).
	Patience float64
	// BestOf is the number of samples drawn per window at temperatures
	// above 0 (default 5, as openai/whisper's command line).
	BestOf int
	// Temperatures are tried in order until a window's result passes the
	// thresholds (default 0, 0.2, 0.4, 0.6, 0.8, 1.0).
	Temperatures []float64
	// CompressionRatioThreshold (default 2.4; negative disables): a result
	// whose text compresses better than this is too repetitive.
	CompressionRatioThreshold float64
	// LogProbThreshold (default -1; -Inf disables): a result whose average
	// token log probability is lower has failed.
	LogProbThreshold float64
	// NoSpeechThreshold (default 0.6; above 1 disables): a window whose
	// <|nospeech|> probability is higher and whose log probability failed
	// is silence and skipped.
	NoSpeechThreshold float64
	// NoContext stops conditioning each window on the previous text
	// (condition_on_previous_text=False).
	NoContext bool
	// WithoutTimestamps decodes text only; each window is one segment.
	WithoutTimestamps bool
	// MaxTokens caps sampled tokens per window (default n_text_ctx/2 = 224).
	MaxTokens int
	// Seed makes temperature sampling reproducible.
	Seed uint64
	// Gate orders this transcription's computations among others (see Gate).
	Gate Gate
	// Progress is called after each window.
	Progress func(Progress)
}

// Progress reports how far a transcription has come.
type Progress struct {
	// Windows is the number of 30 s windows decoded so far. Seeking to the
	// last timestamp makes windows overlap, so the total is an estimate.
	Windows, WindowsTotal int
	// Seconds of audio done, of Duration.
	Seconds, Duration float64
}

// Segment is a stretch of transcribed text with its time span.
type Segment struct {
	ID    int     `json:"id"`
	Seek  int     `json:"seek"` // mel frame (10 ms) where its window began
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Text  string  `json:"text"`
	// Tokens include the segment's timestamp tokens.
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogProb       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

// Result is a whole transcription.
type Result struct {
	Task     string    `json:"task"` // "transcribe" or "translate"
	Text     string    `json:"text"`
	Language string    `json:"language"` // code, e.g. "en"
	Duration float64   `json:"duration"` // seconds of audio
	Segments []Segment `json:"segments"`
	// Stats says where the time went.
	Stats Stats `json:"-"`
}

// Stats are a transcription's work and timings.
type Stats struct {
	Windows  int           // 30 s windows encoded
	Decodes  int           // window decodings, fallbacks included
	Tokens   int           // tokens decoded (every sequence of a group)
	Mel      time.Duration // log-mel spectrogram
	Encode   time.Duration // encoder graphs (including cross-attention K/V)
	Decode   time.Duration // decoder graphs, logit filters and search
	Language time.Duration // language detection
}

func (o *Options) defaults(nTextCtx int) {
	if len(o.Temperatures) == 0 {
		o.Temperatures = []float64{0, 0.2, 0.4, 0.6, 0.8, 1.0}
	}
	if o.BestOf <= 0 {
		o.BestOf = 5
	}
	if o.CompressionRatioThreshold == 0 {
		o.CompressionRatioThreshold = 2.4
	}
	if o.LogProbThreshold == 0 {
		o.LogProbThreshold = -1
	}
	if o.NoSpeechThreshold == 0 {
		o.NoSpeechThreshold = 0.6
	}
	if o.MaxTokens <= 0 || o.MaxTokens > nTextCtx/2 {
		o.MaxTokens = nTextCtx / 2
	}
}

// ErrNoAudio is returned for an empty clip.
var ErrNoAudio = errors.New("whisper: no audio samples")

// Transcribe turns 16 kHz mono samples into text, following
// openai/whisper's transcribe(): the log-mel of the whole clip, then 30 s
// windows, each decoded with temperature fallback; a window ending in a
// complete timestamp pair is followed by one starting at its last
// timestamp.
func (m *Model) Transcribe(ctx context.Context, samples []float32, opts Options) (*Result, error) {
	if len(samples) == 0 {
		return nil, ErrNoAudio
	}
	for i, v := range samples {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("whisper: sample %d is %v", i, v)
		}
	}
	opts.defaults(m.Hparams.NTextCtx)
	tok := m.Tokenizer
	sp := tok.sp
	duration := float64(len(samples)) / SampleRate
	res := &Result{Task: "transcribe", Duration: duration, Segments: []Segment{}}
	start := time.Now()
	mel := LogMel(samples, nSamples, m.Filters, m.Hparams.NMels)
	stats := &res.Stats
	stats.Mel = time.Since(start)
	contentFrames := mel.NFrames - nFrames
	if opts.Translate {
		if !m.Multilingual() {
			return nil, errors.New("whisper: English-only models cannot translate")
		}
		res.Task = "translate"
	}

	language := "en"
	if m.Multilingual() {
		switch {
		case opts.Language != "":
			code, ok := LanguageCode(opts.Language)
			if !ok {
				return nil, fmt.Errorf("whisper: unknown language %q", opts.Language)
			}
			language = code
		default:
			t0 := time.Now()
			code, _, err := m.detectLanguage(ctx, opts.Gate, mel.Window(0, nFrames))
			if err != nil {
				return nil, err
			}
			language = code
			stats.Language = time.Since(t0)
		}
		if _, err := tok.languageToken(language); err != nil {
			return nil, err
		}
	}
	res.Language = language

	var allTokens []int
	var initialPrompt []int
	if p := strings.TrimSpace(opts.Prompt); p != "" {
		ids, err := tok.Encode(" " + p)
		if err != nil {
			return nil, fmt.Errorf("whisper: prompt: %w", err)
		}
		initialPrompt = ids
		allTokens = append(allTokens, ids...)
	}
	promptResetSince := 0
	suppress := tok.suppressTokens()
	rng := rand.New(rand.NewPCG(opts.Seed, 0x77686973706572))

	const inputStride = nFrames / nAudioCtx                           // mel frames per audio position (2)
	const timePrecision = float64(inputStride*hopLength) / SampleRate // 0.02 s
	windowsTotal := max(1, (contentFrames+nFrames-1)/nFrames)
	windows := 0
	seek := 0
	for seek < contentFrames {
		timeOffset := float64(seek*hopLength) / SampleRate
		segmentSize := min(nFrames, contentFrames-seek)
		segmentDuration := float64(segmentSize*hopLength) / SampleRate
		t0 := time.Now()
		af, err := m.encode(ctx, opts.Gate, mel.Window(seek, segmentSize), nil)
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		stats.Encode += t1.Sub(t0)
		dopts := decodingOptions{
			multilingual: m.Multilingual(), language: language, translate: opts.Translate,
			sampleLen: opts.MaxTokens, bestOf: opts.BestOf, beamSize: opts.BeamSize,
			patience: opts.Patience, prompt: allTokens[promptResetSince:],
			noTimestamps: opts.WithoutTimestamps, rng: rng,
		}
		r, err := m.decodeWithFallback(ctx, opts, dopts, suppress, af, stats)
		af.close()
		if err != nil {
			return nil, err
		}
		stats.Decode += time.Since(t1)
		windows++
		stats.Windows = windows

		skip := r.noSpeechProb > opts.NoSpeechThreshold && !(r.avgLogProb > opts.LogProbThreshold)
		previousSeek := seek
		var current []Segment
		if !skip {
			newSegment := func(start, end float64, tokens []int) Segment {
				var text []int
				for _, t := range tokens {
					if t < sp.eot {
						text = append(text, t)
					}
				}
				return Segment{
					Seek: previousSeek, Start: start, End: end, Text: tok.Decode(text), Tokens: tokens,
					Temperature: r.temperature, AvgLogProb: r.avgLogProb,
					CompressionRatio: r.compressionRatio, NoSpeechProb: r.noSpeechProb,
				}
			}
			tokens := r.tokens
			isTS := func(i int) bool { return tokens[i] >= sp.timestampBegin }
			n := len(tokens)
			singleEnding := n >= 2 && !isTS(n-2) && isTS(n-1)
			// Consecutive timestamps end one segment and start the next.
			var cuts []int
			for i := 1; i < n; i++ {
				if isTS(i-1) && isTS(i) {
					cuts = append(cuts, i)
				}
			}
			if len(cuts) > 0 {
				if singleEnding {
					cuts = append(cuts, n)
				}
				last := 0
				for _, cur := range cuts {
					part := tokens[last:cur]
					startPos := part[0] - sp.timestampBegin
					endPos := part[len(part)-1] - sp.timestampBegin
					current = append(current, newSegment(
						timeOffset+float64(startPos)*timePrecision,
						timeOffset+float64(endPos)*timePrecision, part))
					last = cur
				}
				if singleEnding {
					seek += segmentSize
				} else {
					// Resume at the last timestamp: the rest of the window
					// is decoded again with the next one.
					seek += (tokens[last-1] - sp.timestampBegin) * inputStride
				}
			} else {
				dur := segmentDuration
				for i := n - 1; i >= 0; i-- {
					if isTS(i) {
						if tokens[i] != sp.timestampBegin {
							dur = float64(tokens[i]-sp.timestampBegin) * timePrecision
						}
						break
					}
				}
				current = append(current, newSegment(timeOffset, timeOffset+dur, tokens))
				seek += segmentSize
			}
		} else {
			seek += segmentSize
		}
		if seek <= previousSeek {
			// A window must always advance; the timestamp rules ensure it,
			// this guards against a pathological model.
			seek = previousSeek + segmentSize
		}

		for i := range current {
			s := &current[i]
			if s.Start == s.End || strings.TrimSpace(s.Text) == "" {
				s.Text, s.Tokens = "", []int{}
			}
			s.ID = len(res.Segments)
			res.Segments = append(res.Segments, *s)
			allTokens = append(allTokens, s.Tokens...)
		}
		if !skip && (opts.NoContext || r.temperature > 0.5) {
			promptResetSince = len(allTokens)
		}
		if opts.Progress != nil {
			done := min(contentFrames, seek)
			opts.Progress(Progress{
				Windows: windows, WindowsTotal: max(windowsTotal, windows+(contentFrames-done+nFrames-1)/nFrames),
				Seconds: float64(done*hopLength) / SampleRate, Duration: duration,
			})
		}
	}
	res.Text = tok.Decode(allTokens[len(initialPrompt):])
	return res, nil
}

// decodeWithFallback decodes a window at each temperature in turn until the
// result is neither too repetitive nor too improbable (unless it is
// silence), as openai/whisper's decode_with_fallback.
func (m *Model) decodeWithFallback(ctx context.Context, opts Options, d decodingOptions, suppress []int, af *audioFeatures, stats *Stats) (*decodingResult, error) {
	var r *decodingResult
	for _, t := range opts.Temperatures {
		d.temperature = t
		task, err := m.newDecodingTask(opts.Gate, d, suppress)
		if err != nil {
			return nil, err
		}
		if r, err = task.run(ctx, af); err != nil {
			return nil, err
		}
		stats.Decodes++
		stats.Tokens += r.steps * task.nGroup
		fallback := opts.CompressionRatioThreshold >= 0 && r.compressionRatio > opts.CompressionRatioThreshold ||
			r.avgLogProb < opts.LogProbThreshold
		if r.noSpeechProb > opts.NoSpeechThreshold && r.avgLogProb < opts.LogProbThreshold {
			fallback = false // silence
		}
		if !fallback {
			break
		}
	}
	return r, nil
}

// DetectLanguage returns the most probable language of the first 30 s of
// samples and every language's probability (multilingual models only).
func (m *Model) DetectLanguage(ctx context.Context, samples []float32) (string, map[string]float64, error) {
	if !m.Multilingual() {
		return "", nil, errors.New("whisper: English-only models cannot identify languages")
	}
	mel := LogMel(samples, nSamples, m.Filters, m.Hparams.NMels)
	return m.detectLanguage(ctx, nil, mel.Window(0, nFrames))
}

// detectLanguage is openai/whisper's detect_language: one decoder step on
// <|startoftranscript|>, restricted to the language tokens.
func (m *Model) detectLanguage(ctx context.Context, gate Gate, window []float32) (string, map[string]float64, error) {
	af, err := m.encode(ctx, gate, window, nil)
	if err != nil {
		return "", nil, err
	}
	defer af.close()
	kv := m.newKVCache(1)
	defer kv.close()
	sp := m.Tokenizer.sp
	logits, err := m.decode(ctx, gate, af, kv, [][]int{{sp.sot}}, []int{0})
	if err != nil {
		return "", nil, err
	}
	n := min(sp.numLanguages, len(languages))
	langLogits := logits[sp.sot+1 : sp.sot+1+n]
	lse := logSumExp(langLogits)
	probs := make(map[string]float64, n)
	best := argmax(langLogits)
	for i, v := range langLogits {
		probs[languages[i].code] = math.Exp(float64(v) - lse)
	}
	return languages[best].code, probs, nil
}
