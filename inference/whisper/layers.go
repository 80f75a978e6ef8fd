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
//
// This is ggml's non-flash attention (ollama's ScaledDotProductAttention
// with the mask and scale fused into the softmax); the backend is created
// with flash attention off, so the values are expected transposed.
func attend(ctx ml.Context, q, k, vt, mask ml.Tensor) ml.Tensor {
	headDim, nHead, nQuery, nSeq := q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3)
	// The attention permutes q to [headDim, nQuery, nHead, nSeq]; giving
	// it a permuted view of a contiguous copy makes that permutation
	// contiguous, which ggml's tiled sgemm requires of its right operand.
	qc := q.Permute(ctx, 0, 2, 1, 3).Contiguous(ctx).Permute(ctx, 0, 2, 1, 3)
	sdpa := qc.(ml.ScaledDotProductAttention)
	out := sdpa.ScaledDotProductAttention(ctx, k, vt, mask, nil, nil, 1/math.Sqrt(float64(headDim)), true)
	return out.Reshape(ctx, headDim*nHead, nQuery, nSeq)
}

// sgemmPadding returns how many positions make nKey a multiple of sgemmK:
// ggml's tiled sgemm needs the shared dimension of probabilities·v (the
// keys) to be one, else it falls back to a dot product per element, 3-4x
// slower; 1500 audio positions are not.
func sgemmPadding(nKey int) int {
	if nKey%sgemmK == 0 {
		return 0
	}
	return sgemmK - nKey%sgemmK
}

// paddedKeyMask is the [nKey+pad, nQuery] mask that hides the pad keys
// after the first nKey.
func paddedKeyMask(nKey, pad, nQuery int) []float32 {
	m := make([]float32, (nKey+pad)*nQuery)
	inf := float32(math.Inf(-1))
	for i := range nQuery {
		for j := nKey; j < nKey+pad; j++ {
			m[i*(nKey+pad)+j] = inf
		}
	}
	return m
}

// sgemmK is the multiple of the shared dimension that ggml's tiled f32
// matrix product (llamafile's tinyBLAS) requires: 16 floats per AVX-512
// vector, which also covers AVX2 (8) and NEON (4).
const sgemmK = 16

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
