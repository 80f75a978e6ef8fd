package whispertest

import (
	"github.com/outposthq/outpost/inference/whisper"
)

// Small returns the dimensions of a very small multilingual f16 model
// (2 layers of width 64): real vocabulary size and audio context, so the
// whole pipeline runs, in about 8 MB and milliseconds per window.
func Small() whisper.Hparams {
	return whisper.Hparams{
		NVocab: 51865, NAudioCtx: 1500, NAudioState: 64, NAudioHead: 2, NAudioLayer: 2,
		NTextCtx: 448, NTextState: 64, NTextHead: 2, NTextLayer: 2, NMels: 80, FType: 1,
	}
}
