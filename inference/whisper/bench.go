package whisper

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ollama/ollama/ml"
)

// EncodeFLOPs counts the floating-point operations (two per multiply-add)
// of the matrix products in one window's encode graph: both convolutions,
// every block's projections, attention and MLP, and the decoder's
// cross-attention keys and values. Element-wise work is not counted.
func (h Hparams) EncodeFLOPs() float64 {
	a, t := float64(h.NAudioState), float64(nAudioCtx)
	f := 2 * nFrames * 3 * float64(h.NMels) * a // conv1
	f += 2 * t * 3 * a * a                      // conv2
	perLayer := 4*2*t*a*a + 2*2*t*a*4*a + 2*2*t*t*a
	f += float64(h.NAudioLayer) * perLayer
	f += float64(h.NTextLayer) * 2 * 2 * t * a * a // cross-attention K, V
	return f
}

// MatmulBaseline runs the matrix products of EncodeFLOPs alone, with the
// same shapes and weight types and random activations, in one ggml graph:
// what ggml's matrix multiplication achieves on exactly the encoder's
// work, for comparison with Stats.Encode. It returns the graph's FLOPs and
// the best times of reps runs (the first run of a process is slower).
func (m *Model) MatmulBaseline(ctx context.Context, reps int) (float64, Timing, error) {
	h := m.Hparams
	a, t := h.NAudioState, nAudioCtx
	nHead := h.NAudioHead
	hd := a / nHead
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	// Inputs are made once, outside the timed graphs.
	inputs := m.backend.NewContextSize(8)
	defer inputs.Close()
	in := inputs.Input()
	x := in.FromFloats(random(a*t), a, t)
	x4 := in.FromFloats(random(4*a*t), 4*a, t)
	// Attention with the keys padded as the encoder pads them, which is
	// the fastest shape ggml offers for these products.
	tk := t + sgemmPadding(t)
	q := in.FromFloats(random(a*t), hd, t, nHead)
	k := in.FromFloats(random(a*tk), hd, tk, nHead)
	kq := in.FromFloats(random(tk*t*nHead), tk, t, nHead)
	vt := in.FromFloats(random(a*tk), tk, hd, nHead)
	cols1 := in.FromFloats(random(3*h.NMels*nFrames), 3*h.NMels, nFrames)
	cols2 := in.FromFloats(random(3*a*t), 3*a, t)

	// One graph per layer: a graph's outputs stay allocated until it ends,
	// and all of large-v3's at once would take gigabytes.
	e := m.Encoder
	type products func(g ml.Context) []ml.Tensor
	groups := []products{func(g ml.Context) []ml.Tensor {
		return []ml.Tensor{
			cols1.Mulmat(g, e.conv1F32.Reshape(g, 3*h.NMels, a)),
			cols2.Mulmat(g, e.conv2F32.Reshape(g, 3*a, a)),
		}
	}}
	for _, b := range e.Blocks {
		groups = append(groups, func(g ml.Context) []ml.Tensor {
			at := b.Attn
			return []ml.Tensor{
				at.Query.Weight.Mulmat(g, x), at.Key.Weight.Mulmat(g, x),
				at.Value.Weight.Mulmat(g, x), at.Out.Weight.Mulmat(g, x),
				b.MLP.Up.Weight.Mulmat(g, x), b.MLP.Down.Weight.Mulmat(g, x4),
				k.MulmatFullPrec(g, q), vt.Mulmat(g, kq),
			}
		})
	}
	for _, b := range m.Decoder.Blocks {
		groups = append(groups, func(g ml.Context) []ml.Tensor {
			return []ml.Tensor{b.CrossAttn.Key.Weight.Mulmat(g, x), b.CrossAttn.Value.Weight.Mulmat(g, x)}
		})
	}
	best := noTiming
	for range max(1, reps) {
		var total Timing
		for _, group := range groups {
			g := m.backend.NewContext()
			outs := group(g)
			t0 := startTiming()
			err := m.compute(ctx, nil, g, outs, func() {})
			d := t0.since()
			g.Close()
			if err != nil {
				return 0, Timing{}, err
			}
			total.Wall += d.Wall
			total.CPU += d.CPU
		}
		best = best.min(total)
	}
	return h.EncodeFLOPs(), best, nil
}

// EncodeBest times the encode graph (encoder and cross-attention keys and
// values) on one window of mel values, best of reps runs: the counterpart
// of MatmulBaseline for a like-for-like ratio.
func (m *Model) EncodeBest(ctx context.Context, window []float32, reps int) (Timing, error) {
	best := noTiming
	for range max(1, reps) {
		t0 := startTiming()
		af, err := m.encode(ctx, nil, window, nil)
		if err != nil {
			return Timing{}, err
		}
		d := t0.since()
		af.close()
		best = best.min(d)
	}
	return best, nil
}

// BenchWindow returns the first 30 s log-mel window of samples.
func (m *Model) BenchWindow(samples []float32) []float32 {
	return LogMel(samples, nSamples, m.Filters, m.Hparams.NMels).Window(0, nFrames)
}

// Timing is a measurement's wall time and the process's CPU time (user
// and system, every thread). With one thread, CPU time measures the work
// even when other processes share the CPU; with more, it also counts the
// time ggml's threads spin at barriers.
type Timing struct {
	Wall, CPU time.Duration
}

var noTiming = Timing{math.MaxInt64, math.MaxInt64}

func (t Timing) min(u Timing) Timing {
	return Timing{min(t.Wall, u.Wall), min(t.CPU, u.CPU)}
}

type timingStart struct {
	wall time.Time
	cpu  time.Duration
}

func startTiming() timingStart { return timingStart{time.Now(), processCPU()} }

func (s timingStart) since() Timing {
	return Timing{time.Since(s.wall), processCPU() - s.cpu}
}
