package whisper

import (
	"fmt"
	"strconv"
)

// Hparams are the model dimensions stored in a whisper.cpp file header.
type Hparams struct {
	NVocab      int `json:"n_vocab"`
	NAudioCtx   int `json:"n_audio_ctx"`
	NAudioState int `json:"n_audio_state"`
	NAudioHead  int `json:"n_audio_head"`
	NAudioLayer int `json:"n_audio_layer"`
	NTextCtx    int `json:"n_text_ctx"`
	NTextState  int `json:"n_text_state"`
	NTextHead   int `json:"n_text_head"`
	NTextLayer  int `json:"n_text_layer"`
	NMels       int `json:"n_mels"`
	// FType is the raw header value: ftype%1000 is the FileType and
	// ftype/1000 the ggml quantization version.
	FType int `json:"ftype"`
}

// Fixed by the Whisper architecture: 30 s windows of 16 kHz audio, 10 ms
// hops, two conv layers halving 3000 mel frames to 1500 audio positions.
const (
	SampleRate   = 16000
	nFFT         = 400
	hopLength    = 160
	chunkSeconds = 30
	nSamples     = chunkSeconds * SampleRate // 480000
	nFrames      = nSamples / hopLength      // 3000
	nAudioCtx    = nFrames / 2               // 1500
	nFFTBins     = nFFT/2 + 1                // 201
)

// Validation bounds. They are far above every released model (large has
// 32 layers of width 1280) and keep sizes computed from a hostile header
// from overflowing or asking for absurd allocations.
const (
	maxState    = 8192
	maxLayers   = 128
	maxHeadDim  = 256
	maxTextCtx  = 4096
	qntVersion  = 2 // ggml's GGML_QNT_VERSION
	qntFactor   = 1000
	minNVocab   = 51864
	maxNVocab   = 51866
	maxTokenLen = 1024
)

// FileType returns the file type (ftype % 1000).
func (h Hparams) FileType() FileType { return FileType(h.FType % qntFactor) }

// QuantVersion returns ggml's quantization version (ftype / 1000).
func (h Hparams) QuantVersion() int { return h.FType / qntFactor }

// Multilingual reports whether the vocabulary has the multilingual layout
// (whisper.cpp: n_vocab >= 51865).
func (h Hparams) Multilingual() bool { return h.NVocab >= 51865 }

// validate checks every field against the ranges the code below relies on.
func (h Hparams) validate() error {
	check := func(name string, v, lo, hi int) error {
		if v < lo || v > hi {
			return fmt.Errorf("%s = %d is outside [%d, %d]", name, v, lo, hi)
		}
		return nil
	}
	for _, c := range []struct {
		name      string
		v, lo, hi int
	}{
		{"n_vocab", h.NVocab, minNVocab, maxNVocab},
		{"n_audio_ctx", h.NAudioCtx, nAudioCtx, nAudioCtx},
		{"n_audio_state", h.NAudioState, 1, maxState},
		{"n_audio_head", h.NAudioHead, 1, maxState},
		{"n_audio_layer", h.NAudioLayer, 1, maxLayers},
		{"n_text_ctx", h.NTextCtx, 4, maxTextCtx},
		{"n_text_state", h.NTextState, 1, maxState},
		{"n_text_head", h.NTextHead, 1, maxState},
		{"n_text_layer", h.NTextLayer, 1, maxLayers},
	} {
		if err := check(c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	if h.NMels != 80 && h.NMels != 128 {
		return fmt.Errorf("n_mels = %d, want 80 or 128", h.NMels)
	}
	if h.NAudioState%h.NAudioHead != 0 || h.NAudioState/h.NAudioHead > maxHeadDim {
		return fmt.Errorf("n_audio_state %d does not split into %d heads of at most %d", h.NAudioState, h.NAudioHead, maxHeadDim)
	}
	if h.NTextState%h.NTextHead != 0 || h.NTextState/h.NTextHead > maxHeadDim {
		return fmt.Errorf("n_text_state %d does not split into %d heads of at most %d", h.NTextState, h.NTextHead, maxHeadDim)
	}
	if h.NAudioState != h.NTextState {
		// The decoder's cross-attention projects encoder states with
		// [n_text_state, n_text_state] matrices, so the widths must agree.
		return fmt.Errorf("n_audio_state %d != n_text_state %d", h.NAudioState, h.NTextState)
	}
	if h.FType < 0 || h.QuantVersion() > qntVersion {
		return fmt.Errorf("ftype %d: unknown quantization version %d", h.FType, h.QuantVersion())
	}
	if _, ok := fileTypes[h.FileType()]; !ok {
		return fmt.Errorf("ftype %d: unsupported file type %d", h.FType, h.FileType())
	}
	return nil
}

// SizeName names the released model these dimensions belong to ("tiny",
// "base.en", "large-v3", "large-v3-turbo", ...), or "custom" for others.
func (h Hparams) SizeName() string {
	var name string
	switch {
	case h.NAudioLayer == 4 && h.NAudioState == 384:
		name = "tiny"
	case h.NAudioLayer == 6 && h.NAudioState == 512:
		name = "base"
	case h.NAudioLayer == 12 && h.NAudioState == 768:
		name = "small"
	case h.NAudioLayer == 24 && h.NAudioState == 1024:
		name = "medium"
	case h.NAudioLayer == 32 && h.NAudioState == 1280:
		switch {
		case h.NMels == 128 && h.NTextLayer == 4:
			return "large-v3-turbo"
		case h.NMels == 128 && h.NTextLayer == 32:
			return "large-v3"
		case h.NTextLayer == 32 && h.Multilingual():
			return "large"
		}
		return "custom"
	default:
		return "custom"
	}
	if h.NTextLayer != h.NAudioLayer || h.NMels != 80 {
		return "custom"
	}
	if !h.Multilingual() {
		name += ".en"
	}
	return name
}

func (h Hparams) String() string {
	return h.SizeName() + " (" + strconv.Itoa(h.NAudioLayer) + "x" + strconv.Itoa(h.NAudioState) +
		" audio, " + strconv.Itoa(h.NTextLayer) + "x" + strconv.Itoa(h.NTextState) + " text, " +
		strconv.Itoa(h.NMels) + " mels, " + h.FileType().String() + ")"
}

// tensorRole decides which element types a tensor may have.
type tensorRole int

const (
	roleF32    tensorRole = iota // vectors, biases, positional embeddings
	roleConv                     // conv kernels: f32 or f16 (im2col input)
	roleMatrix                   // linear weights and the token embedding
)

type tensorSpec struct {
	name  string
	shape []int64 // ggml ne order
	role  tensorRole
}

func (r tensorRole) allows(t GGMLType) bool {
	switch r {
	case roleF32:
		return t == TypeF32
	case roleConv:
		return t == TypeF32 || t == TypeF16
	default:
		_, ok := ggmlTypes[t]
		return ok
	}
}

// tensorSpecs lists every tensor a model with these dimensions must contain,
// in whisper.cpp's (PyTorch state_dict) order, with its exact shape.
func (h Hparams) tensorSpecs() []tensorSpec {
	a, t := int64(h.NAudioState), int64(h.NTextState)
	var s []tensorSpec
	add := func(name string, role tensorRole, shape ...int64) {
		s = append(s, tensorSpec{name, shape, role})
	}
	attn := func(p string, n int64) {
		add(p+".query.weight", roleMatrix, n, n)
		add(p+".query.bias", roleF32, n)
		add(p+".key.weight", roleMatrix, n, n)
		add(p+".value.weight", roleMatrix, n, n)
		add(p+".value.bias", roleF32, n)
		add(p+".out.weight", roleMatrix, n, n)
		add(p+".out.bias", roleF32, n)
	}
	norm := func(p string, n int64) {
		add(p+".weight", roleF32, n)
		add(p+".bias", roleF32, n)
	}
	mlp := func(p string, n int64) {
		add(p+".mlp.0.weight", roleMatrix, n, 4*n)
		add(p+".mlp.0.bias", roleF32, 4*n)
		add(p+".mlp.2.weight", roleMatrix, 4*n, n)
		add(p+".mlp.2.bias", roleF32, n)
		norm(p+".mlp_ln", n)
	}

	add("encoder.positional_embedding", roleF32, a, int64(h.NAudioCtx))
	add("encoder.conv1.weight", roleConv, 3, int64(h.NMels), a)
	add("encoder.conv1.bias", roleF32, 1, a)
	add("encoder.conv2.weight", roleConv, 3, a, a)
	add("encoder.conv2.bias", roleF32, 1, a)
	for i := range h.NAudioLayer {
		p := "encoder.blocks." + strconv.Itoa(i)
		attn(p+".attn", a)
		norm(p+".attn_ln", a)
		mlp(p, a)
	}
	norm("encoder.ln_post", a)

	add("decoder.positional_embedding", roleF32, t, int64(h.NTextCtx))
	add("decoder.token_embedding.weight", roleMatrix, t, int64(h.NVocab))
	for i := range h.NTextLayer {
		p := "decoder.blocks." + strconv.Itoa(i)
		attn(p+".attn", t)
		norm(p+".attn_ln", t)
		attn(p+".cross_attn", t)
		norm(p+".cross_attn_ln", t)
		mlp(p, t)
	}
	norm("decoder.ln", t)
	return s
}

// TensorSpec is one tensor a model file with given dimensions contains.
type TensorSpec struct {
	Name  string
	Shape []int64 // ggml ne order
	// Type is what whisper.cpp's converter and quantizer write for the
	// file's ftype; ReadFile also accepts the other types ggml can use in
	// that place.
	Type GGMLType
}

// TensorSpecs lists the tensors of a model with these dimensions, in
// whisper.cpp's file order.
func (h Hparams) TensorSpecs() []TensorSpec {
	ft := h.FileType()
	var out []TensorSpec
	for _, s := range h.tensorSpecs() {
		t := TypeF32
		switch {
		case s.role == roleConv && ft != FileTypeF32:
			t = TypeF16
		case s.role == roleMatrix:
			t = ft.WeightType()
		}
		out = append(out, TensorSpec{Name: s.name, Shape: s.shape, Type: t})
	}
	return out
}
