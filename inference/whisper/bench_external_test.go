package whisper_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// BenchmarkEncoderVsMatmul times the encode graph and the matmul baseline
// separately, so that `perf stat` can compare their CPU time:
// WHISPER_SIZE=base WHISPER_TYPE=f16 go test -bench EncoderVsMatmul/encode.
func BenchmarkEncoderVsMatmul(b *testing.B) {
	size, typ := os.Getenv("WHISPER_SIZE"), os.Getenv("WHISPER_TYPE")
	if size == "" {
		size = "tiny"
	}
	if typ == "" {
		typ = "f16"
	}
	h, err := whispertest.Preset(size, typ)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "m.bin")
	if err := whispertest.WriteFile(path, h, 1); err != nil {
		b.Fatal(err)
	}
	m, err := whisper.Load(b.Context(), path, whisper.LoadOptions{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	window := m.BenchWindow(make([]float32, 16000*30))
	// With one thread ggml computes on the calling thread, so process CPU
	// time measures the work even when other processes share the CPU.
	measure := func(b *testing.B, run func() (whisper.Timing, error)) {
		var wall, cpu time.Duration
		for b.Loop() {
			t, err := run()
			if err != nil {
				b.Fatal(err)
			}
			wall += t.Wall
			cpu += t.CPU
		}
		b.ReportMetric(h.EncodeFLOPs()*float64(b.N)/wall.Seconds()/1e9, "GFLOP/s")
		b.ReportMetric(h.EncodeFLOPs()*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
	b.Run("encode", func(b *testing.B) {
		measure(b, func() (whisper.Timing, error) { return m.EncodeBest(b.Context(), window, 1) })
	})
	b.Run("matmul", func(b *testing.B) {
		measure(b, func() (whisper.Timing, error) { _, t, err := m.MatmulBaseline(b.Context(), 1); return t, err })
	})
}
