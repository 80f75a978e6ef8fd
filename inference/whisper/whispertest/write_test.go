package whispertest

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/outposthq/outpost/inference/whisper"
)

func TestWriteInspect(t *testing.T) {
	for _, c := range []struct {
		size, typ, name string
		multilingual    bool
	}{
		{"tiny.en", "f16", "tiny.en", false},
		{"tiny", "q8_0", "tiny", true},
	} {
		t.Run(c.size+"-"+c.typ, func(t *testing.T) {
			h, err := Preset(c.size, c.typ)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), FileName(c.size, c.typ))
			if err := WriteFile(path, h, 1); err != nil {
				t.Fatal(err)
			}
			info, err := whisper.Inspect(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != c.name || info.Type != c.typ || info.Multilingual != c.multilingual || !info.RandomWeights {
				t.Errorf("Inspect = %+v, want size %s type %s multilingual %v random", info, c.name, c.typ, c.multilingual)
			}
		})
	}
}

func TestWriteDeterministic(t *testing.T) {
	h := Small()
	var a, b bytes.Buffer
	if err := Write(&a, h, 7); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, h, 7); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed gave different files")
	}
}

func TestF16(t *testing.T) {
	for _, c := range []struct {
		in   float32
		want uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00},
		{float32(math.Pow(2, -24)), 1}, {float32(math.Pow(2, -14)), 0x0400},
		{1 + 1.0/2048, 0x3c00}, // tie to even
		{1 + 3.0/2048, 0x3c02}, // tie to even (up)
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := f16(c.in); got != c.want {
			t.Errorf("f16(%g) = %#04x, want %#04x", c.in, got, c.want)
		}
		if !math.IsInf(float64(c.in), 0) && c.in < 65520 {
			if back := f16ToF32(c.want); math.Abs(float64(back-c.in)) > math.Abs(float64(c.in))/1024 {
				t.Errorf("f16ToF32(%#04x) = %g, want ~%g", c.want, back, c.in)
			}
		}
	}
}

func TestPresetsNameThemselves(t *testing.T) {
	want := map[string]string{"large-v2": "large"}
	for _, size := range Sizes() {
		h, err := Preset(size, "f16")
		if err != nil {
			t.Fatal(err)
		}
		name := size
		if w, ok := want[size]; ok {
			name = w
		}
		if got := h.SizeName(); got != name {
			t.Errorf("Preset(%q).SizeName() = %q", size, got)
		}
	}
	if _, err := Preset("huge", "f16"); err == nil {
		t.Error("unknown size accepted")
	}
	if _, err := Preset("tiny", "q3_k"); err == nil {
		t.Error("unknown type accepted")
	}
}
