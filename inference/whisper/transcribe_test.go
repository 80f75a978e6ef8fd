package whisper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
	samples := readWAV16(t, filepath.Join(dir, "audio.wav"))
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
