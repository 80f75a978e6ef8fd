package randllama

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outposthq/outpost/inference/gguf"
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name     string
		min, max float64
	}{
		{"tiny", 1e5, 1e6},
		{"25M", 22e6, 30e6},
		{"300M", 270e6, 330e6},
		{"100M", 85e6, 115e6},
		{"1.5B", 1.3e9, 1.7e9},
	}
	for _, tc := range tests {
		c, err := Preset(tc.name)
		if err != nil {
			t.Fatalf("Preset(%q): %v", tc.name, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("Preset(%q) invalid: %v", tc.name, err)
		}
		if p := float64(c.Params()); p < tc.min || p > tc.max {
			t.Errorf("Preset(%q) has %s parameters, want %g..%g", tc.name, CountString(c.Params()), tc.min, tc.max)
		}
	}
	for _, bad := range []string{"", "abc", "-5M", "0"} {
		if _, err := Preset(bad); err == nil {
			t.Errorf("Preset(%q) accepted", bad)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	good, _ := Preset("tiny")
	mods := map[string]func(*Config){
		"embed not multiple of 32": func(c *Config) { c.Embed = 70 },
		"heads do not divide":      func(c *Config) { c.Heads = 3 },
		"kv heads do not divide":   func(c *Config) { c.KVHeads = 3 },
		"vocab too small":          func(c *Config) { c.Vocab = 10 },
		"unsupported type":         func(c *Config) { c.Type = gguf.TensorType(12) },
	}
	for name, mod := range mods {
		c := good
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestWrittenFile checks the file with the independent header reader: the
// shapes llama.cpp expects, the byte tokens, and the random-weights marking.
func TestWrittenFile(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0} {
		c, _ := Preset("tiny")
		c.Type = typ
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := WriteFile(path, c); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := f.String("general.description"); !strings.Contains(d, "RANDOM WEIGHTS") {
			t.Errorf("description %q does not say the weights are random", d)
		}
		if rw, ok := f.Bool("outpost.random_weights"); !rw || !ok {
			t.Error("outpost.random_weights is not true")
		}
		if n, _ := f.ArrayLen("tokenizer.ggml.tokens"); n != uint64(c.Vocab) {
			t.Errorf("%d tokens, want %d", n, c.Vocab)
		}
		if got := f.ParamCount(); got != c.Params() {
			t.Errorf("%s: %d parameters in file, Params() = %d", typ, got, c.Params())
		}
		for _, ti := range f.Tensors {
			want := typ
			if len(ti.Dims) == 1 {
				want = gguf.TypeF32
			}
			if ti.Type != want {
				t.Errorf("%s: %s is %s, want %s", typ, ti.Name, ti.Type, want)
			}
		}
	}
}

func TestVocab(t *testing.T) {
	v := newVocab(MinVocab + 200)
	if len(v.pieces) != MinVocab+200 {
		t.Fatalf("%d pieces, want %d", len(v.pieces), MinVocab+200)
	}
	if v.pieces[firstByte] != "<0x00>" || v.pieces[firstByte+255] != "<0xFF>" || v.types[firstByte] != typeByte {
		t.Error("byte tokens are not where expected")
	}
	// Every piece's prefixes that start with the space marker exist, so SPM
	// can merge up to it.
	seen := map[string]bool{}
	for _, p := range v.pieces {
		if seen[p] {
			t.Errorf("duplicate piece %q", p)
		}
		seen[p] = true
	}
	for _, p := range v.pieces {
		r := []rune(p)
		if len(r) > 2 && r[0] == '\u2581' && !seen[string(r[:len(r)-1])] {
			t.Errorf("piece %q without its prefix %q", p, string(r[:len(r)-1]))
		}
	}
	// Deterministic for a seed.
	c, _ := Preset("tiny")
	var a, b bytes.Buffer
	Write(&a, c)
	Write(&b, c)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same config wrote different files")
	}
}
