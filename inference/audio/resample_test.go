package audio

import (
	"math"
	"testing"
)

// TestResampleTone checks that in-band tones keep amplitude and frequency
// and that tones above the new Nyquist frequency vanish.
func TestResampleTone(t *testing.T) {
	tests := []struct {
		from    int
		freq    float64
		wantAmp float64 // relative to the input amplitude
	}{
		{44100, 1000, 1},
		{48000, 1000, 1},
		{22050, 1000, 1},
		{8000, 1000, 1},   // upsampling
		{44056, 1000, 1},  // an odd rate: interpolated phases
		{96000, 7000, 1},  // top of the passband
		{44100, 10000, 0}, // above 8 kHz: must be gone
		{48000, 10000, 0},
		{44100, 8500, 0},
		{44056, 12000, 0},
	}
	for _, tt := range tests {
		const amp = 0.8
		in := sine(tt.from, tt.freq, float64(tt.from), amp) // one second
		out := Resample(in, tt.from, 16000)
		if len(out) != 16000 {
			t.Errorf("%d Hz: got %d samples, want 16000", tt.from, len(out))
			continue
		}
		// Skip the edges, where the filter sees the zero padding.
		mid := out[1000:15000]
		if tt.wantAmp == 0 {
			peak := 0.0
			for _, v := range mid {
				peak = max(peak, math.Abs(float64(v)))
			}
			if db := 20 * math.Log10(peak/amp); db > -60 {
				t.Errorf("%g Hz tone at %d Hz: residual peak %.1f dB, want <= -60 dB", tt.freq, tt.from, db)
			}
			continue
		}
		a := goertzel(mid, tt.freq, 16000)
		if db := 20 * math.Log10(a/amp); math.Abs(db) > 0.01 {
			t.Errorf("%g Hz tone at %d Hz: amplitude changed by %.4f dB, want within 0.01 dB", tt.freq, tt.from, db)
		}
		// Frequency and phase: a sine of exactly the input frequency, with
		// the phase it has at output sample 1000 (a centred filter adds no
		// delay), must explain the output to 80 dB.
		x := make([]float64, len(out))
		for i, v := range out {
			x[i] = float64(v)
		}
		_, phase, snr := fitSine(x[1000:15000], tt.freq, 16000)
		want := math.Remainder(2*math.Pi*tt.freq*1000/16000, 2*math.Pi)
		if d := math.Abs(math.Remainder(phase-want, 2*math.Pi)); d > 1e-3 || snr < 80 {
			t.Errorf("%g Hz tone at %d Hz: phase off by %.2g rad, SNR %.1f dB; want aligned, >= 80 dB", tt.freq, tt.from, d, snr)
		}
	}
}

// TestResampleStreaming feeds the streaming resampler in uneven chunks and
// requires the batch result.
func TestResampleStreaming(t *testing.T) {
	for _, from := range []int{44100, 48000, 8000, 44056} {
		in := sine(from/3+17, 523, float64(from), 0.5)
		want := Resample(in, from, 16000)
		r := newResampler(from, 16000)
		var got []float32
		for i, step := 0, 1; i < len(in); i, step = i+step, step*3%1000+1 {
			got = r.process(got, in[i:min(i+step, len(in))])
		}
		got = r.flush(got)
		if len(got) != len(want) {
			t.Fatalf("%d Hz: streaming gave %d samples, batch %d", from, len(got), len(want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Fatalf("%d Hz: sample %d streaming %v, batch %v", from, i, got[i], want[i])
			}
		}
	}
}

func TestResampleEdges(t *testing.T) {
	if got := Resample([]float32{0.1, 0.2}, 16000, 16000); len(got) != 2 || got[0] != 0.1 {
		t.Errorf("same rate: got %v, want a copy", got)
	}
	if got := Resample([]float32{1}, 0, 16000); got != nil {
		t.Errorf("zero rate: got %v, want nil", got)
	}
	if got := Resample(nil, 44100, 16000); len(got) != 0 {
		t.Errorf("empty input: got %d samples", len(got))
	}
	// ceil(n·to/from) samples, and DC passes at unity gain.
	in := make([]float32, 44101)
	for i := range in {
		in[i] = 0.25
	}
	out := Resample(in, 44100, 16000)
	if len(out) != 16001 {
		t.Errorf("44101 samples at 44.1 kHz gave %d, want 16001", len(out))
	}
	for i := 500; i < 15500; i++ {
		if math.Abs(float64(out[i])-0.25) > 1e-5 {
			t.Fatalf("DC sample %d = %v, want 0.25", i, out[i])
		}
	}
}
