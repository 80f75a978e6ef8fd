package whisper

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The oracle is an independent float64 implementation's output for a tiny
// random-weight model (see its README). These tests never skip: CI has the
// directory beside the clone, and a missing oracle must fail loudly.

type oracleManifest struct {
	Hparams       Hparams `json:"hparams"`
	PromptTokens  []int   `json:"prompt_tokens"`
	SpecialTokens struct {
		EOT            int `json:"eot"`
		SOT            int `json:"sot"`
		Translate      int `json:"translate"`
		Transcribe     int `json:"transcribe"`
		NoSpeech       int `json:"nospeech"`
		NoTimestamps   int `json:"no_timestamps"`
		TimestampBegin int `json:"timestamp_begin"`
		TimestampEnd   int `json:"timestamp_end"`
	} `json:"special_tokens"`
	Greedy struct {
		Tokens        []int    `json:"tokens"`
		TokenBytesHex []string `json:"token_bytes_hex"`
	} `json:"greedy"`
}

func oracleDir(t testing.TB) string {
	t.Helper()
	if dir, ok := os.LookupEnv("WHISPER_ORACLE_DIR"); ok {
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
			t.Fatalf("WHISPER_ORACLE_DIR=%s is not readable: %v", dir, err)
		}
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatalf("no go.mod above %s", wd)
		}
		root = parent
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "oracle", "whisper")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatalf("whisper oracle not found at %s (set WHISPER_ORACLE_DIR): %v", dir, err)
	}
	return dir
}

func loadManifest(t testing.TB, dir string) oracleManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m oracleManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readF32(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// readWAV16 reads the oracle's plain 44-byte-header mono 16-bit WAV files,
// converting samples as openai/whisper does (int16 / 32768).
func readWAV16(t testing.TB, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a WAV file", path)
	}
	pcm := b[44:]
	out := make([]float32, len(pcm)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
	}
	return out
}

type errStats struct{ maxAbs, maxRef float64 }

func compare(got, want []float32) errStats {
	var s errStats
	for i := range want {
		s.maxAbs = max(s.maxAbs, math.Abs(float64(got[i])-float64(want[i])))
		s.maxRef = max(s.maxRef, math.Abs(float64(want[i])))
	}
	return s
}

func (s errStats) rel() float64 { return s.maxAbs / s.maxRef }

func TestOracleMel(t *testing.T) {
	dir := oracleDir(t)
	f, err := OpenFile(filepath.Join(dir, "model-tiny-random.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ wav, mel string }{
		{"audio.wav", "mel.f32"},
		{"audio_short.wav", "mel_short.f32"},
		{"audio_zero.wav", "mel_zero.f32"},
	} {
		t.Run(c.wav, func(t *testing.T) {
			samples := readWAV16(t, filepath.Join(dir, c.wav))
			m := LogMel(samples, nSamples-len(samples), f.Filters, f.Hparams.NMels)
			want := readF32(t, filepath.Join(dir, c.mel))
			if m.NFrames != nFrames || len(m.Data) != len(want) {
				t.Fatalf("mel is %d×%d, want %d values", m.NMels, m.NFrames, len(want))
			}
			s := compare(m.Data, want)
			t.Logf("max abs err %.3g", s.maxAbs)
			if s.maxAbs > 1e-4 {
				t.Errorf("max abs err %.3g > 1e-4", s.maxAbs)
			}
		})
	}
}

func loadOracleModel(t testing.TB, dir string) *Model {
	t.Helper()
	m, err := Load(t.Context(), filepath.Join(dir, "model-tiny-random.bin"), LoadOptions{TempDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

func TestOracleEncoderDecoder(t *testing.T) {
	dir := oracleDir(t)
	man := loadManifest(t, dir)
	m := loadOracleModel(t, dir)
	ctx := t.Context()

	mel := readF32(t, filepath.Join(dir, "mel.f32"))
	dbg := &encodeOutputs{wantConv: true, wantOut: true}
	af, err := m.encode(ctx, nil, mel, dbg)
	if err != nil {
		t.Fatal(err)
	}
	defer af.close()
	for _, c := range []struct {
		name string
		got  []float32
		tol  float64
	}{
		{"encoder_conv.f32", dbg.conv, 1e-4},
		{"encoder_out.f32", dbg.out, 1e-3},
	} {
		want := readF32(t, filepath.Join(dir, c.name))
		if len(c.got) != len(want) {
			t.Fatalf("%s: got %d values, want %d", c.name, len(c.got), len(want))
		}
		s := compare(c.got, want)
		t.Logf("%s: abs %.3g rel %.3g", c.name, s.maxAbs, s.rel())
		if s.rel() > c.tol {
			t.Errorf("%s: rel err %.3g > %g", c.name, s.rel(), c.tol)
		}
	}

	nv := m.Hparams.NVocab
	kv := m.newKVCache(1)
	defer kv.close()
	prompt, err := m.decode(ctx, nil, af, kv, [][]int{man.PromptTokens}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	wantPrompt := readF32(t, filepath.Join(dir, "logits_prompt.f32"))
	s := compare(prompt, wantPrompt)
	t.Logf("logits_prompt: abs %.3g rel %.3g", s.maxAbs, s.rel())
	if s.rel() > 1e-3 {
		t.Errorf("logits_prompt: rel err %.3g > 1e-3", s.rel())
	}

	wantGreedy := readF32(t, filepath.Join(dir, "logits_greedy.f32"))
	logits := prompt[nv:]
	var tokens []int
	var worst errStats
	for step := range man.Greedy.Tokens {
		s := compare(logits, wantGreedy[step*nv:(step+1)*nv])
		worst.maxAbs, worst.maxRef = max(worst.maxAbs, s.maxAbs), max(worst.maxRef, s.maxRef)
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		tokens = append(tokens, best)
		if step+1 < len(man.Greedy.Tokens) {
			if logits, err = m.decode(ctx, nil, af, kv, [][]int{{best}}, []int{0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("logits_greedy: abs %.3g rel %.3g", worst.maxAbs, worst.rel())
	if worst.rel() > 1e-3 {
		t.Errorf("logits_greedy: rel err %.3g > 1e-3", worst.rel())
	}
	if !slices.Equal(tokens, man.Greedy.Tokens) {
		t.Errorf("greedy tokens %v, want %v", tokens, man.Greedy.Tokens)
	}
}
