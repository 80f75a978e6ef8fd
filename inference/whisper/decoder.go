package whisper

import (
	"context"
	"fmt"
	"strconv"

	"github.com/ollama/ollama/ml"
	"github.com/ollama/ollama/ml/nn"
)

// DecoderBlock is one pre-LayerNorm block of the text decoder: causal
// self-attention, cross-attention on the audio, MLP.
type DecoderBlock struct {
	AttnLN      *nn.LayerNorm
	Attn        MultiHeadAttention
	CrossAttnLN *nn.LayerNorm
	CrossAttn   MultiHeadAttention
	MLPLN       *nn.LayerNorm
	MLP         MLP
}

// Decoder predicts the next token from the tokens so far and the audio.
type Decoder struct {
	TokEmb ml.Tensor // [state, n_vocab]; also the output projection
	PosEmb ml.Tensor // [state, n_text_ctx]
	Blocks []DecoderBlock
	LN     *nn.LayerNorm
}

func newDecoder(w *weightGetter, h Hparams) *Decoder {
	d := &Decoder{
		TokEmb: w.get("decoder.token_embedding.weight"),
		PosEmb: w.get("decoder.positional_embedding"),
		LN:     newLayerNorm(w, "decoder.ln"),
	}
	for i := range h.NTextLayer {
		p := "decoder.blocks." + strconv.Itoa(i)
		d.Blocks = append(d.Blocks, DecoderBlock{
			AttnLN:      newLayerNorm(w, p+".attn_ln"),
			Attn:        newAttention(w, p+".attn", h.NTextHead),
			CrossAttnLN: newLayerNorm(w, p+".cross_attn_ln"),
			CrossAttn:   newAttention(w, p+".cross_attn", h.NTextHead),
			MLPLN:       newLayerNorm(w, p+".mlp_ln"),
			MLP:         newMLP(w, p),
		})
	}
	return d
}

// kvCache holds the self-attention keys and values of nSeq sequences that
// advance in lock step (beam search and best-of sampling decode a group of
// equally long sequences).
type kvCache struct {
	ctx        ml.Context
	k          []ml.Tensor // per layer [state, nCtx, nSeq]
	vt         []ml.Tensor // per layer [nCtx, state, nSeq] (transposed)
	nCtx, nSeq int
	n          int // positions filled
	elemSize   int
}

func (m *Model) newKVCache(nSeq int) *kvCache {
	h := m.Hparams
	c := &kvCache{ctx: m.backend.NewContextSize(4 * h.NTextLayer), nCtx: h.NTextCtx, nSeq: nSeq, elemSize: 4}
	if m.kvType == ml.DTypeF16 {
		c.elemSize = 2
	}
	in := c.ctx.Input()
	for range h.NTextLayer {
		c.k = append(c.k, in.Zeros(m.kvType, h.NTextState, h.NTextCtx, nSeq))
		c.vt = append(c.vt, in.Zeros(m.kvType, h.NTextCtx, h.NTextState, nSeq))
	}
	return c
}

func (c *kvCache) close() {
	if c != nil && c.ctx != nil {
		c.ctx.Close()
		c.ctx = nil
	}
}

// Forward runs one block on x ([state, n, nSeq]) whose tokens sit at
// positions kv.n..kv.n+n-1, storing their keys and values in layer l of kv.
func (b *DecoderBlock) Forward(ctx ml.Context, x ml.Tensor, l int, kv *kvCache, af *audioFeatures, mask ml.Tensor) ml.Tensor {
	nState, n, nSeq := x.Dim(0), x.Dim(1), x.Dim(2)
	nHead := b.Attn.NHead
	headDim := nState / nHead
	es, nCtx := kv.elemSize, kv.nCtx
	past := kv.n
	total := past + n

	// Causal self-attention through the cache.
	h := b.AttnLN.Forward(ctx, x, layerNormEps)
	q := b.Attn.Query.Forward(ctx, h).Reshape(ctx, headDim, nHead, n, nSeq)
	k := b.Attn.Key.Forward(ctx, h)
	v := b.Attn.Value.Forward(ctx, h)
	kDst := kv.k[l].View(ctx, past*nState*es, nState, nState*es, n, nState*nCtx*es, nSeq)
	vDst := kv.vt[l].View(ctx, past*es, n, nCtx*es, nState, nCtx*nState*es, nSeq)
	// Forward the stores first: ggml runs nodes in the order they were
	// added, and the attention below reads the cache through views that do
	// not depend on these copies.
	ctx.Forward(k.Copy(ctx, kDst), v.Permute(ctx, 1, 0, 2, 3).Copy(ctx, vDst))
	keys := kv.k[l].View(ctx, 0, headDim, headDim*es, nHead, nState*es, total, nState*nCtx*es, nSeq)
	values := kv.vt[l].View(ctx, 0, total, nCtx*es, headDim, headDim*nCtx*es, nHead, nState*nCtx*es, nSeq)
	a := attend(ctx, q, keys, values, mask)
	x = x.Add(ctx, b.Attn.Out.Forward(ctx, a))

	// Cross-attention on the window's precomputed keys and values, shared
	// by every sequence of the group.
	h = b.CrossAttnLN.Forward(ctx, x, layerNormEps)
	q = b.CrossAttn.Query.Forward(ctx, h).Reshape(ctx, headDim, nHead, n, nSeq)
	nAudio := af.k[l].Dim(1)
	ck := af.k[l].Reshape(ctx, headDim, nHead, nAudio)
	cv := af.vt[l].Reshape(ctx, nAudio, headDim, nHead)
	a = attend(ctx, q, ck, cv, nil)
	x = x.Add(ctx, b.CrossAttn.Out.Forward(ctx, a))

	h = b.MLPLN.Forward(ctx, x, layerNormEps)
	return x.Add(ctx, b.MLP.Forward(ctx, h))
}

// decode appends tokens (rows of the same length n, for the first len(tokens)
// sequences) to the sequences in kv and returns the logits of the rows listed in outputs (index s·n+i is
// position i of sequence s), as len(outputs) consecutive n_vocab vectors.
func (m *Model) decode(ctx context.Context, gate Gate, af *audioFeatures, kv *kvCache, tokens [][]int, outputs []int) ([]float32, error) {
	nSeq := len(tokens)
	if nSeq == 0 || nSeq > kv.nSeq {
		return nil, fmt.Errorf("whisper: %d sequences for a cache of %d", nSeq, kv.nSeq)
	}
	n := len(tokens[0])
	if n == 0 || kv.n+n > kv.nCtx {
		return nil, fmt.Errorf("whisper: %d tokens after %d exceed the text context of %d", n, kv.n, kv.nCtx)
	}
	flat := make([]int32, 0, n*nSeq)
	for _, row := range tokens {
		if len(row) != n {
			return nil, fmt.Errorf("whisper: sequences of unequal length %d and %d", len(row), n)
		}
		for _, t := range row {
			if t < 0 || t >= m.Hparams.NVocab {
				return nil, fmt.Errorf("whisper: token %d outside the vocabulary", t)
			}
			flat = append(flat, int32(t))
		}
	}
	pos := make([]int32, n)
	for i := range pos {
		pos[i] = int32(kv.n + i)
	}
	sel := make([]int32, len(outputs))
	for i, o := range outputs {
		if o < 0 || o >= n*nSeq {
			return nil, fmt.Errorf("whisper: output row %d out of range", o)
		}
		sel[i] = int32(o)
	}

	g := m.backend.NewContext()
	defer g.Close()
	d := m.Decoder
	nState := m.Hparams.NTextState
	x := d.TokEmb.Rows(g, g.Input().FromInts(flat, len(flat))).Reshape(g, nState, n, nSeq)
	x = x.Add(g, d.PosEmb.Rows(g, g.Input().FromInts(pos, n)))
	var mask ml.Tensor
	if n > 1 {
		mask = g.Input().FromFloats(causalMask(kv.n, n, kv.n+n), kv.n+n, n)
	}
	for l := range d.Blocks {
		x = d.Blocks[l].Forward(g, x, l, kv, af, mask)
	}
	x = d.LN.Forward(g, x, layerNormEps).Reshape(g, nState, n*nSeq)
	x = x.Rows(g, g.Input().FromInts(sel, len(sel)))
	logits := d.TokEmb.Mulmat(g, x)
	var out []float32
	if err := m.compute(ctx, gate, g, []ml.Tensor{logits}, func() { out = logits.Floats() }); err != nil {
		return nil, err
	}
	kv.n += n
	return out, nil
}

// reorder makes sequence i of the cache a copy of sequence src[i] (beam
// search keeps the best continuations; a prompt decoded once is copied to
// every sequence of the group). Only the filled positions are copied.
func (m *Model) reorder(ctx context.Context, gate Gate, kv *kvCache, src []int) error {
	identity := len(src) == kv.nSeq
	idx := make([]int32, len(src))
	for i, s := range src {
		if s < 0 || s >= kv.nSeq {
			return fmt.Errorf("whisper: reorder source %d out of range", s)
		}
		idx[i] = int32(s)
		identity = identity && s == i
	}
	if identity || kv.n == 0 {
		return nil
	}
	g := m.backend.NewContext()
	defer g.Close()
	nState, es, nCtx, n := m.Hparams.NTextState, kv.elemSize, kv.nCtx, kv.n
	rows := g.Input().FromInts(idx, len(idx))
	// ggml_get_rows on a 3-D source takes one index per (row, slice): the
	// same sources repeated for each of the state slices.
	idx3 := make([]int32, 0, len(idx)*nState)
	for range nState {
		idx3 = append(idx3, idx...)
	}
	rows3 := g.Input().FromInts(idx3, len(idx), nState)
	var outs []ml.Tensor
	for l := range kv.k {
		// Each sequence's keys are one row of n·state values (rows strided
		// by the capacity); its transposed values are a [n, seq, state]
		// view.
		k := kv.k[l].View(g, 0, nState*n, nState*nCtx*es, kv.nSeq)
		kDst := kv.k[l].View(g, 0, nState*n, nState*nCtx*es, len(src))
		outs = append(outs, k.Rows(g, rows).Copy(g, kDst))
		v := kv.vt[l].View(g, 0, n, nCtx*es, nState, nCtx*nState*es, kv.nSeq).Permute(g, 0, 2, 1, 3)
		vDst := kv.vt[l].View(g, 0, n, nCtx*es, nState, nCtx*nState*es, len(src)).Permute(g, 0, 2, 1, 3)
		outs = append(outs, v.Rows(g, rows3).Copy(g, vDst))
	}
	return m.compute(ctx, gate, g, outs, func() {})
}
