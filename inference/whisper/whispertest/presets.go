// Package whispertest writes Whisper models with random weights in
// whisper.cpp's file layout, with the dimensions of the released models
// (tiny ... large-v3, turbo), for tests, fuzz seeds and benchmarks: no
// model weights can be downloaded where Outpost is built, and inference
// cost does not depend on the weights' values.
//
// A written model transcribes nothing meaningful. Its vocabulary is
// GPT-2-like (the 256 byte tokens in GPT-2's order, then merges of earlier
// tokens) and its last ordinary token is whisper.RandomMarker(), which
// whisper.File.RandomWeights and whisper.Inspect report; by convention the
// files are also named whisper-<size>-random-<type>.bin.
package whispertest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/outposthq/outpost/inference/whisper"
)

type preset struct {
	name                  string
	state, head, audioL   int
	textL, mels, nVocabML int
	english               bool // an English-only (".en") variant exists
}

var presets = []preset{
	{"tiny", 384, 6, 4, 4, 80, 51865, true},
	{"base", 512, 8, 6, 6, 80, 51865, true},
	{"small", 768, 12, 12, 12, 80, 51865, true},
	{"medium", 1024, 16, 24, 24, 80, 51865, true},
	{"large-v2", 1280, 20, 32, 32, 80, 51865, false},
	{"large-v3", 1280, 20, 32, 32, 128, 51866, false},
	{"large-v3-turbo", 1280, 20, 32, 4, 128, 51866, false},
}

// Sizes lists the names Preset accepts.
func Sizes() []string {
	var out []string
	for _, p := range presets {
		out = append(out, p.name)
		if p.english {
			out = append(out, p.name+".en")
		}
	}
	return out
}

// Types lists the weight types Write can produce.
func Types() []string { return []string{"f32", "f16", "q8_0"} }

// Preset returns the dimensions of a released model ("tiny", "base.en",
// "large-v3", ...) stored with weight type typ ("f16", "q8_0", "f32").
func Preset(size, typ string) (whisper.Hparams, error) {
	name, en := strings.CutSuffix(size, ".en")
	if name == "turbo" {
		name = "large-v3-turbo"
	}
	i := slices.IndexFunc(presets, func(p preset) bool { return p.name == name })
	if i < 0 || (en && !presets[i].english) {
		return whisper.Hparams{}, fmt.Errorf("unknown whisper size %q (have %s)", size, strings.Join(Sizes(), ", "))
	}
	ftype, err := FType(typ)
	if err != nil {
		return whisper.Hparams{}, err
	}
	p := presets[i]
	h := whisper.Hparams{
		NVocab: p.nVocabML, NAudioCtx: 1500, NAudioState: p.state, NAudioHead: p.head,
		NAudioLayer: p.audioL, NTextCtx: 448, NTextState: p.state, NTextHead: p.head,
		NTextLayer: p.textL, NMels: p.mels, FType: ftype,
	}
	if en {
		h.NVocab = 51864
	}
	return h, nil
}

// FType returns the header ftype whisper.cpp writes for a weight type.
func FType(typ string) (int, error) {
	switch strings.ToLower(typ) {
	case "f32":
		return int(whisper.FileTypeF32), nil
	case "f16":
		return int(whisper.FileTypeF16), nil
	case "q8_0":
		// Quantized files carry ggml's quantization version (2) × 1000.
		return 2000 + int(whisper.FileTypeQ8_0), nil
	}
	return 0, fmt.Errorf("unsupported weight type %q (have %s)", typ, strings.Join(Types(), ", "))
}

// FileName is the conventional name of a random-weight model file.
func FileName(size, typ string) string {
	return "whisper-" + size + "-random-" + strings.ToLower(typ) + ".bin"
}
