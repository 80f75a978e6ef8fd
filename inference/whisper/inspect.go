package whisper

// Info describes a validated model file, for the model registry.
type Info struct {
	Hparams Hparams `json:"hparams"`
	// Size names the released model the dimensions match ("tiny.en",
	// "base", "large-v3", "large-v3-turbo") or "custom".
	Size string `json:"size"`
	// Type is the weight matrices' type: f32, f16, q4_0, q4_1, q5_0,
	// q5_1 or q8_0.
	Type         string `json:"type"`
	Multilingual bool   `json:"multilingual"`
	NMels        int    `json:"n_mels"`
	// Languages is the number of language tokens (99, or 100 for
	// large-v3); English-only models have them too but only use English.
	Languages int `json:"languages"`
	// Params is the number of weights.
	Params int64 `json:"params"`
	// Bytes is the file size.
	Bytes int64 `json:"bytes"`
	// RandomWeights is true for models written by whispertest (see
	// File.RandomWeights): they exercise the engine but transcribe nothing.
	RandomWeights bool `json:"random_weights"`
}

// Inspect validates the whisper.cpp model file at path (header, filterbank,
// vocabulary, every tensor's name, shape, type and extent) without loading
// weights, and describes it.
func Inspect(path string) (Info, error) {
	f, err := OpenFile(path)
	if err != nil {
		return Info{}, err
	}
	return f.Info(), nil
}

// Info describes f.
func (f *File) Info() Info {
	h := f.Hparams
	var params int64
	for _, t := range f.Tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		params += n
	}
	return Info{
		Hparams:       h,
		Size:          h.SizeName(),
		Type:          h.FileType().String(),
		Multilingual:  h.Multilingual(),
		NMels:         h.NMels,
		Languages:     newSpecials(h.NVocab).numLanguages,
		Params:        params,
		Bytes:         f.Size,
		RandomWeights: f.RandomWeights(),
	}
}
