package whisper

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// minimalModel builds, by hand, the smallest file ReadFile accepts: width-1
// layers, n_tokens ordinary tokens, f16 matrices.
func minimalModel(nTokens int) []byte {
	h := Hparams{
		NVocab: 51864, NAudioCtx: 1500, NAudioState: 1, NAudioHead: 1, NAudioLayer: 1,
		NTextCtx: 4, NTextState: 1, NTextHead: 1, NTextLayer: 1, NMels: 80, FType: 1,
	}
	le := binary.LittleEndian
	var b []byte
	for _, v := range []int{fileMagic, h.NVocab, h.NAudioCtx, h.NAudioState, h.NAudioHead, h.NAudioLayer,
		h.NTextCtx, h.NTextState, h.NTextHead, h.NTextLayer, h.NMels, h.FType, h.NMels, nFFTBins} {
		b = le.AppendUint32(b, uint32(v))
	}
	for i := range h.NMels * nFFTBins {
		b = le.AppendUint32(b, math.Float32bits(float32(i%7)/7))
	}
	b = le.AppendUint32(b, uint32(nTokens))
	for i := range nTokens {
		tok := []byte{byte('a' + i%26), byte(i)}
		b = le.AppendUint32(b, uint32(len(tok)))
		b = append(b, tok...)
	}
	for _, s := range h.TensorSpecs() {
		b = le.AppendUint32(b, uint32(len(s.Shape)))
		b = le.AppendUint32(b, uint32(len(s.Name)))
		b = le.AppendUint32(b, uint32(s.Type))
		n := int64(1)
		for _, d := range s.Shape {
			b = le.AppendUint32(b, uint32(d))
			n *= d
		}
		b = append(b, s.Name...)
		size, _ := s.Type.rowBytes(n)
		b = append(b, make([]byte, size)...)
	}
	return b
}

func TestReadMinimal(t *testing.T) {
	data := minimalModel(3)
	f, err := ReadFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Info(); got.Size != "custom" || got.Type != "f16" || got.Multilingual || got.RandomWeights {
		t.Errorf("Info = %+v", got)
	}
}

func FuzzReadModel(f *testing.F) {
	valid := minimalModel(3)
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:100])
	f.Add(minimalModel(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		// An accepted file must be exactly what the loader relies on.
		specs := file.Hparams.tensorSpecs()
		if len(file.Tensors) != len(specs) {
			t.Fatalf("%d tensors, want %d", len(file.Tensors), len(specs))
		}
		for _, ti := range file.Tensors {
			if ti.Offset < 0 || ti.Size < 0 || ti.Offset+ti.Size > int64(len(data)) {
				t.Fatalf("tensor %s at %d+%d outside %d bytes", ti.Name, ti.Offset, ti.Size, len(data))
			}
		}
		if len(file.Filters) != file.Hparams.NMels*nFFTBins {
			t.Fatalf("%d filter values", len(file.Filters))
		}
		_ = file.Info()
	})
}

// FuzzEncode: prompts come from outside (the HTTP API). Encoding must not
// panic and must round-trip through Decode for any UTF-8 text.
func FuzzEncode(f *testing.F) {
	var toks [][]byte
	for b := range 256 {
		toks = append(toks, []byte{byte(b)})
	}
	for _, m := range []string{"th", "the", " the", "in", " a", "er", " s", "'s", "  ", "\n\n"} {
		toks = append(toks, []byte(m))
	}
	tok := newTokenizer(toks, 51864)
	for _, s := range []string{"", "Hello, world!", "it's   a\n\ttest 123", "日本語 ♪♪ (laughs)", "\xff\xfe", "'ll've'd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Decode(ids); utf8.ValidString(s) && got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		if strings.Join(pretokenize(s), "") != s {
			t.Fatalf("pretokenize(%q) loses text", s)
		}
	})
}
