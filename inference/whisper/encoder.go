package whisper

import (
	"context"
	"strconv"

	"github.com/ollama/ollama/ml"
	"github.com/ollama/ollama/ml/nn"
)

// EncoderBlock is one pre-LayerNorm transformer block of the audio encoder.
type EncoderBlock struct {
	AttnLN *nn.LayerNorm
	Attn   MultiHeadAttention
	MLPLN  *nn.LayerNorm
	MLP    MLP
}

// Encoder turns a 30 s log-mel window into n_audio_ctx (1500) states.
type Encoder struct {
	// Conv kernels are [3, in, out] (ggml order); biases [1, out].
	Conv1W, Conv1B, Conv2W, Conv2B ml.Tensor
	PosEmb                         ml.Tensor // [state, 1500]
	Blocks                         []EncoderBlock
	LNPost                         *nn.LayerNorm

	nState int

	// Made once by prepare.
	conv1F32, conv2F32 ml.Tensor
	keyMask            ml.Tensor // [1500+keyPad, 1500+keyPad]
	keyPad             int
}

func newEncoder(w *weightGetter, h Hparams) *Encoder {
	e := &Encoder{
		Conv1W: w.get("encoder.conv1.weight"), Conv1B: w.get("encoder.conv1.bias"),
		Conv2W: w.get("encoder.conv2.weight"), Conv2B: w.get("encoder.conv2.bias"),
		PosEmb: w.get("encoder.positional_embedding"),
		LNPost: newLayerNorm(w, "encoder.ln_post"),
		nState: h.NAudioState,
	}
	for i := range h.NAudioLayer {
		p := "encoder.blocks." + strconv.Itoa(i)
		e.Blocks = append(e.Blocks, EncoderBlock{
			AttnLN: newLayerNorm(w, p+".attn_ln"),
			Attn:   newAttention(w, p+".attn", h.NAudioHead),
			MLPLN:  newLayerNorm(w, p+".mlp_ln"),
			MLP:    newMLP(w, p),
		})
	}
	return e
}

// conv1d is a kernel-3, padding-1 convolution done as a height-1 conv2d
// (im2col + matrix product in ggml), plus bias and exact GELU. w is the
// f32 kernel [3, in, out]: an f16 kernel would make im2col round the input
// to f16 (rel 3e-4 at the conv output), and the kernels are small.
//
//	x: [time, 1, in] → [time/stride, 1, out]
func conv1d(ctx ml.Context, x, w, b ml.Tensor, stride int) ml.Tensor {
	kernel := w.Reshape(ctx, w.Dim(0), 1, w.Dim(1), w.Dim(2))
	y := kernel.Conv2D(ctx, x, stride, 1, 1, 0, 1, 1)
	y = y.Add(ctx, b.Reshape(ctx, 1, 1, b.Dim(1)))
	return y.GELU_ERF(ctx)
}

// ConvForward applies both convolutions to mel ([nFrames, 1, nMels]) and
// returns [state, 1500] before the positional embedding.
func (e *Encoder) ConvForward(ctx ml.Context, mel ml.Tensor) ml.Tensor {
	x := conv1d(ctx, mel, e.conv1F32, e.Conv1B, 1)
	x = conv1d(ctx, x, e.conv2F32, e.Conv2B, 2)
	// [1500, 1, state] → [state, 1500]: each audio position becomes a column.
	return x.Reshape(ctx, x.Dim(0), e.nState).Permute(ctx, 1, 0, 2, 3).Contiguous(ctx)
}

// Forward returns the encoder output [state, 1500] for mel
// ([nFrames, 1, nMels]), after ln_post.
func (e *Encoder) Forward(ctx ml.Context, mel ml.Tensor) ml.Tensor {
	x := e.ConvForward(ctx, mel).Add(ctx, e.PosEmb)
	n := x.Dim(1)
	if e.keyPad > 0 {
		// Run the blocks on keyPad extra zero positions, hidden as keys by
		// the mask, so that every attention has a multiple of 16 keys
		// (see sgemmPadding); they cost 0.3% more work and are dropped at
		// the end.
		x = x.Pad(ctx, 0, e.keyPad, 0, 0)
	}
	for _, b := range e.Blocks {
		x = b.Forward(ctx, x, e.keyMask)
	}
	if e.keyPad > 0 {
		x = x.View(ctx, 0, e.nState, x.Stride(1), n)
	}
	return e.LNPost.Forward(ctx, x, layerNormEps)
}

// prepare computes, once per model, what every window's graph shares: the
// f32 conv kernels and the mask hiding the keys padded for ggml's sgemm.
func (e *Encoder) prepare(ctx context.Context, m *Model, static ml.Context) error {
	in := static.Input()
	e.conv1F32 = in.Empty(ml.DTypeF32, e.Conv1W.Shape()...)
	e.conv2F32 = in.Empty(ml.DTypeF32, e.Conv2W.Shape()...)
	e.keyPad = sgemmPadding(nAudioCtx)
	if e.keyPad > 0 {
		n := nAudioCtx + e.keyPad
		e.keyMask = in.FromFloats(paddedKeyMask(nAudioCtx, e.keyPad, n), n, n)
	}
	g := m.backend.NewContext()
	defer g.Close()
	outs := []ml.Tensor{e.Conv1W.Cast(g, ml.DTypeF32).Copy(g, e.conv1F32), e.Conv2W.Cast(g, ml.DTypeF32).Copy(g, e.conv2F32)}
	return m.compute(ctx, nil, g, outs, func() {})
}

// Forward is x + attn(ln(x)), then x + mlp(ln(x)), for x [state, n];
// mask (nil or [n, n]) is attend's.
func (b *EncoderBlock) Forward(ctx ml.Context, x, mask ml.Tensor) ml.Tensor {
	nState, n := x.Dim(0), x.Dim(1)
	nHead := b.Attn.NHead
	headDim := nState / nHead
	h := b.AttnLN.Forward(ctx, x, layerNormEps)
	q := b.Attn.Query.Forward(ctx, h).Reshape(ctx, headDim, nHead, n)
	k := b.Attn.Key.Forward(ctx, h).Reshape(ctx, headDim, nHead, n)
	vt := b.Attn.Value.Forward(ctx, h).Reshape(ctx, headDim, nHead, n).Permute(ctx, 1, 2, 0, 3).Contiguous(ctx)
	a := attend(ctx, q, k, vt, mask).Reshape(ctx, nState, n)
	x = x.Add(ctx, b.Attn.Out.Forward(ctx, a))
	h = b.MLPLN.Forward(ctx, x, layerNormEps)
	return x.Add(ctx, b.MLP.Forward(ctx, h))
}

// audioFeatures is what the decoder needs of one encoded window: every
// layer's cross-attention keys and (transposed) values, computed once.
type audioFeatures struct {
	ctx ml.Context
	k   []ml.Tensor // [state, 1500]
	vt  []ml.Tensor // [1500, state]
}

func (a *audioFeatures) close() {
	if a != nil && a.ctx != nil {
		a.ctx.Close()
		a.ctx = nil
	}
}

// encodeOutputs selects debugging outputs of encode.
type encodeOutputs struct {
	conv, out []float32 // [1500][state], row-major
	wantConv  bool
	wantOut   bool
}

// encode runs the encoder on one window of mel ([nMels][3000]) and the
// decoder's cross-attention projections of its output, in one graph.
func (m *Model) encode(ctx context.Context, gate Gate, window []float32, dbg *encodeOutputs) (*audioFeatures, error) {
	h := m.Hparams
	af := &audioFeatures{ctx: m.backend.NewContextSize(4 * h.NTextLayer)}
	in := af.ctx.Input()
	for range h.NTextLayer {
		af.k = append(af.k, in.Empty(m.kvType, h.NAudioState, h.NAudioCtx))
		af.vt = append(af.vt, in.Empty(m.kvType, h.NAudioCtx, h.NAudioState))
	}

	g := m.backend.NewContext()
	defer g.Close()
	mel := g.Input().FromFloats(window, nFrames, 1, h.NMels)
	var outs []ml.Tensor
	var conv ml.Tensor
	if dbg != nil && dbg.wantConv {
		conv = m.Encoder.ConvForward(g, mel)
		outs = append(outs, conv)
	}
	xa := m.Encoder.Forward(g, mel)
	var xaOut ml.Tensor
	if dbg != nil && dbg.wantOut {
		// ggml reuses xa's memory after its last consumer; a copy that
		// nothing consumes survives the graph.
		xaOut = xa.Duplicate(g)
	}
	for l, blk := range m.Decoder.Blocks {
		k := blk.CrossAttn.Key.Forward(g, xa)
		v := blk.CrossAttn.Value.Forward(g, xa).Permute(g, 1, 0, 2, 3)
		outs = append(outs, k.Copy(g, af.k[l]), v.Copy(g, af.vt[l]))
	}
	if xaOut != nil {
		outs = append(outs, xaOut)
	}
	err := m.compute(ctx, gate, g, outs, func() {
		if conv != nil {
			dbg.conv = conv.Floats()
		}
		if xaOut != nil {
			dbg.out = xaOut.Floats()
		}
	})
	if err != nil {
		af.close()
		return nil, err
	}
	return af, nil
}
