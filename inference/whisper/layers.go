package whisper

import (
	"math"

	"github.com/ollama/ollama/ml"
	"github.com/ollama/ollama/ml/nn"
)

// layerNormEps is PyTorch's LayerNorm default, which Whisper uses.
const layerNormEps = 1e-5

// MultiHeadAttention holds one attention block's projections. Whisper's key
// projection has no bias.
type MultiHeadAttention struct {
	Query, Key, Value, Out *nn.Linear
	NHead                  int
}

func newAttention(w *weightGetter, prefix string, nHead int) MultiHeadAttention {
	lin := func(name string, bias bool) *nn.Linear {
		l := &nn.Linear{Weight: w.get(prefix + "." + name + ".weight")}
		if bias {
			l.Bias = w.get(prefix + "." + name + ".bias")
		}
		return l
	}
	return MultiHeadAttention{
		Query: lin("query", true), Key: lin("key", false),
		Value: lin("value", true), Out: lin("out", true),
		NHead: nHead,
	}
}

func newLayerNorm(w *weightGetter, prefix string) *nn.LayerNorm {
	return &nn.LayerNorm{Weight: w.get(prefix + ".weight"), Bias: w.get(prefix + ".bias")}
}

// MLP is Linear(n→4n), exact GELU, Linear(4n→n).
type MLP struct {
	Up, Down *nn.Linear
}

func newMLP(w *weightGetter, prefix string) MLP {
	return MLP{
		Up:   &nn.Linear{Weight: w.get(prefix + ".mlp.0.weight"), Bias: w.get(prefix + ".mlp.0.bias")},
		Down: &nn.Linear{Weight: w.get(prefix + ".mlp.2.weight"), Bias: w.get(prefix + ".mlp.2.bias")},
	}
}

func (m MLP) Forward(ctx ml.Context, x ml.Tensor) ml.Tensor {
	// GELU_ERF is the exact erf form openai/whisper uses (ggml's GELU is the
	// tanh approximation, off by ~2e-4 relative at the output).
	return m.Down.Forward(ctx, m.Up.Forward(ctx, x).GELU_ERF(ctx))
}

// attend computes softmax(q·kᵀ/√d + mask)·v per head.
//
//	q:  [headDim, nHead, nQuery, nSeq]
//	k:  [headDim, nHead, nKey, nSeq or 1]
//	vt: [nKey, headDim, nHead, nSeq or 1] (values transposed, so that the
//	    second product reads contiguous rows)
//	mask: nil or [nKey, nQuery] f32 of 0 and -Inf
//
// It returns [headDim·nHead, nQuery, nSeq].
func attend(ctx ml.Context, q, k, vt, mask ml.Tensor) ml.Tensor {
	headDim, nHead, nQuery, nSeq := q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3)
	// Scaling q (nQuery·state values) is cheaper than scaling q·kᵀ, and a
	// contiguous q lets ggml use its tiled sgemm for long sequences.
	q = q.Scale(ctx, 1/math.Sqrt(float64(headDim))).Permute(ctx, 0, 2, 1, 3).Contiguous(ctx)
	kq := k.Permute(ctx, 0, 2, 1, 3).MulmatFullPrec(ctx, q) // [nKey, nQuery, nHead, nSeq]
	if mask != nil {
		kq = kq.Add(ctx, mask)
	}
	kq = kq.Softmax(ctx)
	out := vt.Mulmat(ctx, kq) // [headDim, nQuery, nHead, nSeq]
	return out.Permute(ctx, 0, 2, 1, 3).Contiguous(ctx, headDim*nHead, nQuery, nSeq)
}

// causalMask returns the [nKey, nQuery] mask for queries at positions
// past..past+nQuery-1 attending to keys 0..nKey-1.
func causalMask(past, nQuery, nKey int) []float32 {
	m := make([]float32, nKey*nQuery)
	inf := float32(math.Inf(-1))
	for i := range nQuery {
		for j := past + i + 1; j < nKey; j++ {
			m[i*nKey+j] = inf
		}
	}
	return m
}
