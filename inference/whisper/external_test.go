package whisper_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// The filterbank whispertest computes is librosa's, which the oracle file
// (and every real whisper.cpp file) stores.
func TestMelFiltersMatchOracle(t *testing.T) {
	f, err := whisper.OpenFile(filepath.Join(whisper.OracleDir(t), "model-tiny-random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got := whispertest.MelFilters(80)
	var worst float64
	for i, want := range f.Filters {
		worst = max(worst, math.Abs(float64(got[i]-want)))
	}
	if worst > 1e-7 {
		t.Errorf("filterbank differs by %g", worst)
	}
}

func writeSmall(t *testing.T, h whisper.Hparams) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := whispertest.WriteFile(path, h, 1); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every way a file can be broken gets an ErrFormat error naming the
// problem, from the Go reader, before ggml sees a byte.
func TestReadFileRejects(t *testing.T) {
	good, err := os.ReadFile(writeSmall(t, whispertest.Small()))
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	patch := func(off int, v uint32) []byte {
		b := bytes.Clone(good)
		le.PutUint32(b[off:], v)
		return b
	}
	// The first tensor record follows the vocabulary.
	f, err := whisper.ReadFile(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	first := int(f.Tensors[0].Offset) - 12 - 4*len(f.Tensors[0].Shape) - len(f.Tensors[0].Name)
	last := f.Tensors[len(f.Tensors)-1]
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"gguf", append([]byte("GGUF"), good[4:]...), "GGUF"},
		{"magic", patch(0, 0x12345678), "bad magic"},
		{"n_vocab", patch(4, 1000), "n_vocab"},
		{"audio ctx", patch(8, 1499), "n_audio_ctx"},
		{"heads", patch(16, 3), "heads"},
		{"layers", patch(20, 1<<20), "n_audio_layer"},
		{"n_mels", patch(40, 81), "n_mels"},
		{"ftype", patch(44, 5), "unsupported file type"},
		{"quant version", patch(44, 3007), "quantization version"},
		{"filter shape", patch(52, 200), "mel filters"},
		{"nan filter", patch(56, 0x7fc00000), "mel filter value"},
		{"token count", patch(56+4*80*201, 60000), "vocabulary has"},
		{"truncated header", good[:1000], "truncated"},
		{"tensor dims", patch(first, 9), "n_dims"},
		{"tensor name length", patch(first+4, 1000), "name length"},
		{"tensor type", patch(first+8, 1), "type f16"},
		{"tensor shape", patch(first+12, 63), "shape"},
		{"unknown tensor", func() []byte { b := bytes.Clone(good); b[first+12+8] = 'X'; return b }(), "unexpected tensor"},
		{"truncated data", good[:len(good)-1], "file ends"},
		{"missing tensor", good[:last.Offset-int64(12+4*len(last.Shape)+len(last.Name))], "missing"},
		{"trailing bytes", append(bytes.Clone(good), 1, 2, 3), "truncated"},
		{"duplicate tensor", append(bytes.Clone(good), good[last.Offset-int64(12+4*len(last.Shape)+len(last.Name)):]...), "twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := whisper.ReadFile(bytes.NewReader(c.data), int64(len(c.data)))
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, whisper.ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want ErrFormat mentioning %q", err, c.want)
			}
		})
	}
}

func TestLoadRejectsBeforeGGML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.bin")
	if err := os.WriteFile(path, []byte("ggml but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := whisper.Load(t.Context(), path, whisper.LoadOptions{}); !errors.Is(err, whisper.ErrFormat) {
		t.Errorf("Load = %v, want ErrFormat", err)
	}
}

// A quantized random model loads and runs end to end.
func TestQ8Model(t *testing.T) {
	h := whispertest.Small()
	h.FType = 2007
	path := writeSmall(t, h)
	info, err := whisper.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "q8_0" || !info.RandomWeights || !info.Multilingual {
		t.Errorf("Inspect = %+v", info)
	}
	m, err := whisper.Load(t.Context(), path, whisper.LoadOptions{Threads: 1, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	samples := make([]float32, 16000)
	for i := range samples {
		samples[i] = float32(0.1 * math.Sin(float64(i)*0.05))
	}
	r, err := m.Transcribe(t.Context(), samples, whisper.Options{MaxTokens: 8, Temperatures: []float64{0}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Language == "" || r.Task != "transcribe" {
		t.Errorf("result %+v", r)
	}
	if _, err := m.Transcribe(t.Context(), samples, whisper.Options{Language: "klingon"}); err == nil {
		t.Error("unknown language accepted")
	}
	tr, err := m.Transcribe(t.Context(), samples, whisper.Options{Language: "German", Translate: true, MaxTokens: 4, Temperatures: []float64{0}, WithoutTimestamps: true})
	if err != nil || tr.Task != "translate" || tr.Language != "de" {
		t.Errorf("translate: %+v %v", tr, err)
	}
}

func TestLoadCache(t *testing.T) {
	path := writeSmall(t, whispertest.Small())
	cache := t.TempDir()
	load := func() {
		t.Helper()
		m, err := whisper.Load(t.Context(), path, whisper.LoadOptions{Threads: 1, CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	entries := func() []os.DirEntry {
		t.Helper()
		e, err := os.ReadDir(cache)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	load()
	first := entries()
	if len(first) != 1 || !strings.HasSuffix(first[0].Name(), ".gguf") {
		t.Fatalf("cache holds %v", first)
	}
	info1, _ := first[0].Info()
	load()
	again := entries()
	if info2, _ := again[0].Info(); len(again) != 1 || !info2.ModTime().Equal(info1.ModTime()) {
		t.Errorf("second load rewrote the cache: %v", again)
	}
	// A changed model file replaces its cached copy.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	load()
	if now := entries(); len(now) != 1 || now[0].Name() == first[0].Name() {
		t.Errorf("cache after change: %v (was %v)", now, first)
	}
}
