// Package whisperbench measures the Whisper engine on random-weight models
// of the released sizes (`outpost bench whisper`): real-time factor,
// encoder time and achieved GFLOP/s against ggml's own matrix
// multiplication on the same shapes in the same run, and decoder tokens per
// second. Compute does not depend on the weights' values, so random weights
// give the speed of the real models.
package whisperbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// Options select what to measure.
type Options struct {
	Sizes     []string        // default tiny, base, small
	Types     []string        // default f16, q8_0
	Durations []time.Duration // default 30 s, 10 min
	Threads   int             // default all CPUs
	// TokensPerWindow is decoded per 30 s window (default 100, about what
	// speech produces; random weights never end a window by themselves).
	TokensPerWindow int
	// MatmulReps is the number of timed baseline runs (best is kept).
	MatmulReps int
	// Dir holds the generated models (default: a temporary directory).
	Dir string
	// Shape maps a size and type to model dimensions (default
	// whispertest.Preset; tests use smaller ones).
	Shape    func(size, typ string) (whisper.Hparams, error)
	Progress func(format string, args ...any)
}

// Result is one JSON line: one model on one clip.
type Result struct {
	Bench        string  `json:"bench"`
	Size         string  `json:"size"`
	Type         string  `json:"type"`
	Threads      int     `json:"threads"`
	AudioSeconds float64 `json:"audio_s"`
	Windows      int     `json:"windows"`
	LoadSeconds  float64 `json:"load_s"`
	WallSeconds  float64 `json:"wall_s"`
	// RTF is wall time over audio time: below 1 is faster than real time.
	RTF        float64 `json:"rtf"`
	MelSeconds float64 `json:"mel_s"`
	EncodeS    float64 `json:"encode_s_per_window"`
	// EncoderGF is achieved over the transcription's windows;
	// EncoderBestGF over the best of MatmulReps encodes of one window,
	// which EncoderFrac compares with the best matmul baseline run.
	EncoderGF     float64 `json:"encoder_gflops"`
	EncoderBestGF float64 `json:"encoder_best_gflops"`
	MatmulGF      float64 `json:"matmul_gflops"`
	EncoderFrac   float64 `json:"encoder_vs_matmul"`
	// The same per second of process CPU time: robust to other load on
	// the machine with one thread; with more it counts spinning threads.
	EncoderCPUGF   float64 `json:"encoder_cpu_gflops"`
	MatmulCPUGF    float64 `json:"matmul_cpu_gflops"`
	EncoderFracCPU float64 `json:"encoder_vs_matmul_cpu"`
	Tokens         int     `json:"decoded_tokens"`
	DecodeS        float64 `json:"decode_s"`
	TokPerSec      float64 `json:"decoder_tok_s"`
}

// Run measures every size × type × duration and calls emit per result.
func Run(ctx context.Context, o Options, emit func(Result)) error {
	if len(o.Sizes) == 0 {
		o.Sizes = []string{"tiny", "base", "small"}
	}
	if len(o.Types) == 0 {
		o.Types = []string{"f16", "q8_0"}
	}
	if len(o.Durations) == 0 {
		o.Durations = []time.Duration{30 * time.Second, 10 * time.Minute}
	}
	o.Threads = cpuslot.Threads(o.Threads)
	if o.TokensPerWindow <= 0 {
		o.TokensPerWindow = 100
	}
	if o.Shape == nil {
		o.Shape = whispertest.Preset
	}
	if o.MatmulReps <= 0 {
		o.MatmulReps = 3
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "whisperbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	for _, size := range o.Sizes {
		for _, typ := range o.Types {
			if err := runModel(ctx, o, dir, size, typ, progress, emit); err != nil {
				return fmt.Errorf("%s %s: %w", size, typ, err)
			}
		}
	}
	return nil
}

func runModel(ctx context.Context, o Options, dir, size, typ string, progress func(string, ...any), emit func(Result)) error {
	h, err := o.Shape(size, typ)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, whispertest.FileName(size, typ))
	progress("writing %s", filepath.Base(path))
	if err := whispertest.WriteFile(path, h, 1); err != nil {
		return err
	}
	defer os.Remove(path)
	t0 := time.Now()
	m, err := whisper.Load(ctx, path, whisper.LoadOptions{Threads: o.Threads})
	if err != nil {
		return err
	}
	defer m.Close()
	load := time.Since(t0)

	// The baseline and the encoder alternate, each keeping its best run, so
	// that other load on the machine affects both alike.
	progress("%s %s: matmul baseline and encoder, %d runs each", size, typ, o.MatmulReps)
	window := m.BenchWindow(Signal(30 * time.Second))
	var flops float64
	var bestMatmul, bestEnc whisper.Timing
	for i := range o.MatmulReps + 1 { // run 0 warms up
		f, d, err := m.MatmulBaseline(ctx, 1)
		if err != nil {
			return err
		}
		e, err := m.EncodeBest(ctx, window, 1)
		if err != nil {
			return err
		}
		switch i {
		case 0:
		case 1:
			flops, bestMatmul, bestEnc = f, d, e
		default:
			bestMatmul.Wall, bestMatmul.CPU = min(bestMatmul.Wall, d.Wall), min(bestMatmul.CPU, d.CPU)
			bestEnc.Wall, bestEnc.CPU = min(bestEnc.Wall, e.Wall), min(bestEnc.CPU, e.CPU)
		}
	}
	gf := func(d time.Duration) float64 { return flops / d.Seconds() / 1e9 }
	matmulGF, encBestGF := gf(bestMatmul.Wall), gf(bestEnc.Wall)
	matmulCPUGF, encCPUGF := gf(bestMatmul.CPU), gf(bestEnc.CPU)

	for _, d := range o.Durations {
		samples := Signal(d)
		progress("%s %s: transcribing %v of audio", size, typ, d)
		start := time.Now()
		r, err := m.Transcribe(ctx, samples, whisper.Options{
			Language:     "en",
			Temperatures: []float64{0},
			// One window per 30 s and a fixed token count: random output
			// must not change the amount of work.
			WithoutTimestamps:         true,
			MaxTokens:                 o.TokensPerWindow,
			CompressionRatioThreshold: -1,
			LogProbThreshold:          math.Inf(-1),
			NoSpeechThreshold:         2,
			Progress: func(p whisper.Progress) {
				progress("%s %s: %.0f/%.0f s", size, typ, p.Seconds, p.Duration)
			},
		})
		if err != nil {
			return err
		}
		wall := time.Since(start)
		st := r.Stats
		encPerWin := st.Encode.Seconds() / float64(st.Windows)
		encGF := h.EncodeFLOPs() / encPerWin / 1e9
		emit(Result{
			Bench: "whisper", Size: size, Type: typ, Threads: o.Threads,
			AudioSeconds: d.Seconds(), Windows: st.Windows,
			LoadSeconds: round(load.Seconds()), WallSeconds: round(wall.Seconds()),
			RTF:        round(wall.Seconds() / d.Seconds()),
			MelSeconds: round(st.Mel.Seconds()),
			EncodeS:    round(encPerWin), EncoderGF: round(encGF), MatmulGF: round(matmulGF),
			EncoderBestGF: round(encBestGF), EncoderFrac: round(encBestGF / matmulGF),
			EncoderCPUGF: round(encCPUGF), MatmulCPUGF: round(matmulCPUGF),
			EncoderFracCPU: round(encCPUGF / matmulCPUGF),
			Tokens:         st.Tokens, DecodeS: round(st.Decode.Seconds()),
			TokPerSec: round(float64(st.Tokens) / st.Decode.Seconds()),
		})
	}
	return nil
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// Signal is d of deterministic speech-like test audio at 16 kHz: a gliding
// voiced tone with harmonics, syllable-rate amplitude modulation and noise.
func Signal(d time.Duration) []float32 {
	n := int(d.Seconds() * whisper.SampleRate)
	out := make([]float32, n)
	rng := rand.New(rand.NewPCG(3, 4))
	var phase float64
	for i := range out {
		t := float64(i) / whisper.SampleRate
		f0 := 140 + 40*math.Sin(2*math.Pi*0.3*t)
		phase += 2 * math.Pi * f0 / whisper.SampleRate
		v := 0.0
		for k := 1; k <= 5; k++ {
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		env := 0.5 + 0.5*math.Sin(2*math.Pi*4*t)
		out[i] = float32(0.15*env*v + 0.01*rng.NormFloat64())
	}
	return out
}
