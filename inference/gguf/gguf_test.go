package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample writes a small valid file with every writable value kind and a
// tensor of each quantized type.
func sample(t testing.TB) []byte {
	t.Helper()
	kv := []KV{
		{"general.architecture", String("llama")},
		{"llama.block_count", Uint32(2)},
		{"llama.attention.layer_norm_rms_epsilon", Float32(1e-5)},
		{"tokenizer.ggml.add_bos_token", Bool(true)},
		{"tokenizer.ggml.tokens", Strings([]string{"<unk>", "a", "bc"})},
		{"tokenizer.ggml.scores", Float32s([]float32{0, -1, -2})},
		{"tokenizer.ggml.token_type", Int32s([]int32{2, 1, 1})},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, 64*3)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	var tensors []Tensor
	for _, typ := range []TensorType{TypeF32, TypeF16, TypeQ8_0, TypeQ4_0} {
		tensors = append(tensors, Tensor{
			Name: "t." + typ.String(), Type: typ, Dims: []uint64{64, 3},
			Data: func(w io.Writer) error {
				b, err := Encode(typ, nil, vals)
				if err != nil {
					return err
				}
				_, err = w.Write(b)
				return err
			},
		})
	}
	var buf bytes.Buffer
	if err := Write(&buf, kv, tensors); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	data := sample(t)
	f, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if got := f.Architecture(); got != "llama" {
		t.Errorf("Architecture() = %q, want llama", got)
	}
	if n, _ := f.ArchUint("block_count"); n != 2 {
		t.Errorf("block_count = %d, want 2", n)
	}
	if e, _ := f.Float("llama.attention.layer_norm_rms_epsilon"); math.Abs(e-1e-5) > 1e-9 {
		t.Errorf("epsilon = %g", e)
	}
	if n, ok := f.ArrayLen("tokenizer.ggml.tokens"); !ok || n != 3 {
		t.Errorf("tokens length = %d, %v; want 3", n, ok)
	}
	if len(f.Tensors) != 4 {
		t.Fatalf("%d tensors, want 4", len(f.Tensors))
	}
	wantSizes := map[string]uint64{"t.F32": 768, "t.F16": 384, "t.Q8_0": 6 * 34, "t.Q4_0": 6 * 18}
	for _, ti := range f.Tensors {
		if ti.Size != wantSizes[ti.Name] {
			t.Errorf("%s: size %d, want %d", ti.Name, ti.Size, wantSizes[ti.Name])
		}
	}
	if got, want := f.ParamCount(), uint64(4*192); got != want {
		t.Errorf("ParamCount() = %d, want %d", got, want)
	}
	// The Q8_0 block read back from the file dequantizes close to F32.
	var q8, f32 TensorInfo
	for _, ti := range f.Tensors {
		switch ti.Type {
		case TypeQ8_0:
			q8 = ti
		case TypeF32:
			f32 = ti
		}
	}
	orig := data[f.DataOffset+f32.Offset:]
	deq := dequantQ8_0(data[f.DataOffset+q8.Offset : f.DataOffset+q8.Offset+q8.Size])
	for i, v := range deq {
		o := math.Float32frombits(binary.LittleEndian.Uint32(orig[4*i:]))
		if math.Abs(float64(v-o)) > 0.03 {
			t.Fatalf("value %d: Q8_0 %g, F32 %g", i, v, o)
		}
	}
}

func dequantQ8_0(b []byte) []float32 {
	var out []float32
	for ; len(b) >= 34; b = b[34:] {
		d := F16ToF32(binary.LittleEndian.Uint16(b))
		for _, q := range b[2:34] {
			out = append(out, d*float32(int8(q)))
		}
	}
	return out
}

func dequantQ4_0(b []byte) []float32 {
	var out []float32
	for ; len(b) >= 18; b = b[18:] {
		d := F16ToF32(binary.LittleEndian.Uint16(b))
		blk := make([]float32, 32)
		for j, q := range b[2:18] {
			blk[j] = d * float32(int(q&15)-8)
			blk[j+16] = d * float32(int(q>>4)-8)
		}
		out = append(out, blk...)
	}
	return out
}

func TestQuantizeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 32*64)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	tests := []struct {
		typ     TensorType
		deq     func([]byte) []float32
		maxRelE float64 // max error relative to the block's largest magnitude
	}{
		{TypeQ8_0, dequantQ8_0, 0.5/127 + 1e-3},
		{TypeQ4_0, dequantQ4_0, 1.0/8 + 1e-2}, // +amax clamps to 7d
	}
	for _, tc := range tests {
		b, err := Encode(tc.typ, nil, src)
		if err != nil {
			t.Fatal(err)
		}
		got := tc.deq(b)
		for blk := 0; blk < len(src); blk += 32 {
			var amax float64
			for _, v := range src[blk : blk+32] {
				amax = max(amax, math.Abs(float64(v)))
			}
			for i := blk; i < blk+32; i++ {
				if e := math.Abs(float64(got[i]-src[i])) / amax; e > tc.maxRelE {
					t.Fatalf("%s value %d: got %g want %g (relative error %.4f > %.4f)", tc.typ, i, got[i], src[i], e, tc.maxRelE)
				}
			}
		}
	}
}

func TestF16RoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f { // NaN
			continue
		}
		if got := F16(f); got != uint16(h) {
			t.Fatalf("F16(F16ToF32(%#04x)=%g) = %#04x", h, f, got)
		}
	}
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {5.960464477539063e-08, 0x0001}, {1e-9, 0},
		{1.0009765625 + 0.00048828125, 0x3c02}, // halfway: rounds to even
	}
	for _, tc := range tests {
		if got := F16(tc.in); got != tc.want {
			t.Errorf("F16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

func TestCorruptHeaders(t *testing.T) {
	good := sample(t)
	le := binary.LittleEndian
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	// Offsets of the fixed header fields.
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"bad magic", mut(func(b []byte) []byte { copy(b, "GGML"); return b }), "bad magic"},
		{"version 1", mut(func(b []byte) []byte { le.PutUint32(b[4:], 1); return b }), "unsupported GGUF version"},
		{"huge tensor count", mut(func(b []byte) []byte { le.PutUint64(b[8:], 1<<40); return b }), "exceeds the limit"},
		{"kv count past end", mut(func(b []byte) []byte { le.PutUint64(b[16:], 60000); return b }), "truncated"},
		{"huge key length", mut(func(b []byte) []byte { le.PutUint64(b[24:], 1<<62); return b }), "exceeds the limit"},
		{"bad value type", mut(func(b []byte) []byte {
			i := 24 + 8 + len("general.architecture")
			le.PutUint32(b[i:], 99)
			return b
		}), "unknown value type"},
		{"truncated header", good[:100], "truncated"},
		{"truncated data", good[:len(good)-40], "truncated?"},
		{"unknown tensor type", mut(func(b []byte) []byte {
			i := bytes.Index(b, []byte("t.F32")) + 5 + 4 + 16
			le.PutUint32(b[i:], 77)
			return b
		}), "unknown type 77"},
		{"misaligned offset", mut(func(b []byte) []byte {
			i := bytes.Index(b, []byte("t.F16")) + 5 + 4 + 16 + 4
			le.PutUint64(b[i:], 7)
			return b
		}), "not aligned"},
		{"gap between tensors", mut(func(b []byte) []byte {
			i := bytes.Index(b, []byte("t.F16")) + 5 + 4 + 16 + 4
			le.PutUint64(b[i:], 1<<20)
			return b
		}), "expected"},
		{"too many dims", mut(func(b []byte) []byte {
			i := bytes.Index(b, []byte("t.F32")) + 5
			le.PutUint32(b[i:], 9)
			return b
		}), "dimensions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadHeader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil {
				err = f.Validate(int64(len(tc.data)))
			}
			if err == nil {
				t.Fatal("accepted a corrupt file")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(path, sample(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadFile(text) = %v, want ErrCorrupt", err)
	}
}

// FuzzReadGGUFHeader feeds arbitrary bytes to the header reader: it must
// return an error or a header whose tensors fit the input, never panic or
// allocate beyond the input's size.
func FuzzReadGGUFHeader(f *testing.F) {
	good := sample(f)
	f.Add(good)
	f.Add(good[:64])
	f.Add(good[:len(good)/2])
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if h.Validate(int64(len(data))) != nil {
			return
		}
		if h.DataOffset+h.DataSize() > uint64(len(data)) {
			t.Fatalf("validated tensors end at %d past %d bytes", h.DataOffset+h.DataSize(), len(data))
		}
	})
}
