package whisper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outposthq/outpost/inference/audio"
)

// checkResult checks what holds for any model, random weights included.
func checkResult(t *testing.T, m *Model, r *Result, duration float64) {
	t.Helper()
	if r.Language == "" || r.Duration != duration {
		t.Errorf("language %q duration %v, want %v", r.Language, r.Duration, duration)
	}
	if !utf8.ValidString(r.Text) {
		t.Errorf("text is not UTF-8: %q", r.Text)
	}
	for i, s := range r.Segments {
		if s.ID != i || s.Start < 0 || s.End < s.Start || s.Start > duration+30 {
			t.Errorf("segment %d: %+v", i, s)
		}
		for _, tok := range s.Tokens {
			if tok < 0 || tok >= m.Hparams.NVocab || tok == m.Tokenizer.EOT() {
				t.Errorf("segment %d has token %d", i, tok)
			}
		}
		if s.AvgLogProb > 0 || s.NoSpeechProb < 0 || s.NoSpeechProb > 1 {
			t.Errorf("segment %d: avg_logprob %v no_speech_prob %v", i, s.AvgLogProb, s.NoSpeechProb)
		}
	}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := r.Write(&b, f); err != nil {
			t.Errorf("format %s: %v", f, err)
		}
		if strings.HasSuffix(f, "json") && !json.Valid(b.Bytes()) {
			t.Errorf("format %s: invalid JSON %q", f, b.String())
		}
	}
}

func TestOracleTranscribe(t *testing.T) {
	dir := oracleDir(t)
	m := loadOracleModel(t, dir)
	// The full path: the container decoder, then the engine.
	samples, info, err := audio.DecodeFile(filepath.Join(dir, "audio.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if want := readWAV16(t, filepath.Join(dir, "audio.wav")); info.SampleRate != 16000 || !slices.Equal(samples, want) {
		t.Fatalf("audio.DecodeFile gave %d samples at %d Hz, not the file's int16/32768 values", len(samples), info.SampleRate)
	}
	var progress []Progress
	start := time.Now()
	r, err := m.Transcribe(t.Context(), samples, Options{
		MaxTokens: 48, // random weights never stop on their own
		BestOf:    2,
		Progress:  func(p Progress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: %d segments, text %q", time.Since(start), len(r.Segments), r.Text)
	checkResult(t, m, r, 3)
	if r.Language != "en" {
		t.Errorf("English-only model reported language %q", r.Language)
	}
	if len(progress) == 0 || progress[len(progress)-1].Seconds != 3 {
		t.Errorf("progress %+v, want it to end at 3 s", progress)
	}
}

func TestOracleTranscribeBeam(t *testing.T) {
	dir := oracleDir(t)
	m := loadOracleModel(t, dir)
	samples := readWAV16(t, filepath.Join(dir, "audio_short.wav"))
	r, err := m.Transcribe(t.Context(), samples, Options{BeamSize: 5, MaxTokens: 24, Temperatures: []float64{0}, Prompt: "hello world"})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, m, r, 0.5)
}

func TestTranscribeBadInput(t *testing.T) {
	m := loadOracleModel(t, oracleDir(t))
	if _, err := m.Transcribe(t.Context(), nil, Options{}); !errors.Is(err, ErrNoAudio) {
		t.Errorf("empty: %v", err)
	}
	if _, err := m.Transcribe(t.Context(), []float32{0, float32(math.NaN())}, Options{}); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := m.Transcribe(t.Context(), make([]float32, 100), Options{Translate: true}); err == nil {
		t.Error("translation with an English-only model accepted")
	}
	r, err := m.Transcribe(t.Context(), make([]float32, 100), Options{})
	if err != nil || len(r.Segments) != 0 {
		t.Errorf("under one frame of audio: %+v %v", r, err)
	}
}

func TestTranscribeCancel(t *testing.T) {
	dir := oracleDir(t)
	m := loadOracleModel(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	samples := make([]float32, 16000*40)
	_, err := m.Transcribe(ctx, samples, Options{
		MaxTokens: 16,
		Gate: func(ctx context.Context) (func(), error) {
			cancel()
			return func() {}, ctx.Err()
		},
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestOracleFallbackAndSilence(t *testing.T) {
	dir := oracleDir(t)
	m := loadOracleModel(t, dir)
	samples := readWAV16(t, filepath.Join(dir, "audio_short.wav"))
	base := Options{MaxTokens: 6, BestOf: 2, WithoutTimestamps: true}

	// A log-probability threshold nothing meets: every temperature is
	// tried and the last result kept.
	o := base
	o.LogProbThreshold = 1
	o.NoSpeechThreshold = 2
	r, err := m.Transcribe(t.Context(), samples, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stats.Decodes != 6 || len(r.Segments) != 1 || r.Segments[0].Temperature != 1 {
		t.Errorf("fallback: %d decodes, segments %+v", r.Stats.Decodes, r.Segments)
	}

	// Thresholds that always pass: the greedy result stands.
	o = base
	o.LogProbThreshold = math.Inf(-1)
	o.CompressionRatioThreshold = -1
	r, err = m.Transcribe(t.Context(), samples, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stats.Decodes != 1 || r.Segments[0].Temperature != 0 {
		t.Errorf("no fallback: %d decodes, temperature %v", r.Stats.Decodes, r.Segments[0].Temperature)
	}

	// Every window looks like silence (no-speech above the threshold and
	// log probability below): nothing is transcribed.
	o = base
	o.Temperatures = []float64{0}
	o.NoSpeechThreshold = 1e-12
	o.LogProbThreshold = 1
	r, err = m.Transcribe(t.Context(), samples, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Segments) != 0 || r.Text != "" {
		t.Errorf("silence produced %+v", r.Segments)
	}
}

func TestOracleLongAudio(t *testing.T) {
	dir := oracleDir(t)
	m := loadOracleModel(t, dir)
	clip := readWAV16(t, filepath.Join(dir, "audio.wav"))
	var samples []float32
	for len(samples) < 16000*70 {
		samples = append(samples, clip...)
	}
	var last Progress
	r, err := m.Transcribe(t.Context(), samples, Options{
		MaxTokens: 12, Temperatures: []float64{0}, Prompt: "A prompt.",
		Progress: func(p Progress) { last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, m, r, float64(len(samples))/16000)
	if r.Stats.Windows < 3 || last.Windows != r.Stats.Windows || last.Seconds != r.Duration || last.WindowsTotal < last.Windows {
		t.Errorf("%d windows, last progress %+v", r.Stats.Windows, last)
	}
	prev := -1
	for _, s := range r.Segments {
		if s.Seek < prev || float64(s.Seek)/100 > s.Start+1e-9 {
			t.Errorf("segment %+v out of order (previous seek %d)", s, prev)
		}
		prev = s.Seek
	}
}
