package whisper

import (
	"math"
	"runtime"
	"sync"
)

// Mel is a log-mel spectrogram, row-major [NMels][NFrames]: each row is one
// mel band over time, which is the layout the encoder's first convolution
// reads (ggml ne = [NFrames, NMels]).
type Mel struct {
	Data    []float32
	NMels   int
	NFrames int
}

// LogMel computes openai/whisper's log_mel_spectrogram of samples (16 kHz
// mono) followed by padding zero samples: a centred STFT (reflect padding,
// periodic Hann window of 400, hop 160, last frame dropped), power spectra,
// the file's mel filterbank ([nMels][201]), log10 floored at 1e-10, values
// clamped to 8 below the global maximum, then (x+4)/4.
//
// The arithmetic is float64 and the result float32; frames are spread over
// all CPUs.
func LogMel(samples []float32, padding int, filters []float32, nMels int) *Mel {
	n := len(samples) + padding
	nFramesOut := n / hopLength // 1 + n/hop frames, minus the dropped last one
	m := &Mel{Data: make([]float32, nMels*nFramesOut), NMels: nMels, NFrames: nFramesOut}
	if nFramesOut == 0 {
		return m
	}

	// x(i) of the padded signal, with centring reflection at both ends.
	const half = nFFT / 2
	at := func(i int) float64 {
		i -= half
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
		if i < 0 || i >= len(samples) { // zero padding (or a too-short clip)
			return 0
		}
		return float64(samples[i])
	}

	window := make([]float64, nFFT)
	for i := range window {
		window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/nFFT)
	}
	// Each band's filter is non-zero on a short run of bins.
	type band struct {
		lo int
		w  []float64
	}
	bands := make([]band, nMels)
	for b := range bands {
		row := filters[b*nFFTBins : (b+1)*nFFTBins]
		lo, hi := 0, len(row)
		for lo < hi && row[lo] == 0 {
			lo++
		}
		for hi > lo && row[hi-1] == 0 {
			hi--
		}
		w := make([]float64, hi-lo)
		for i := range w {
			w[i] = float64(row[lo+i])
		}
		bands[b] = band{lo, w}
	}

	plan := newFFTPlan(nFFT)
	workers := min(runtime.GOMAXPROCS(0), (nFramesOut+63)/64)
	maxes := make([]float64, workers)
	var wg sync.WaitGroup
	pairs := (nFramesOut + 1) / 2
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, b := make([]float64, nFFT), make([]float64, nFFT)
			pa, pb := make([]float64, nFFTBins), make([]float64, nFFTBins)
			in, out, scratch := make([]complex128, nFFT), make([]complex128, nFFT), make([]complex128, nFFT)
			mx := math.Inf(-1)
			emit := func(frame int, power []float64) {
				for bi, bd := range bands {
					var s float64
					for i, wv := range bd.w {
						s += wv * power[bd.lo+i]
					}
					v := math.Log10(max(s, 1e-10))
					mx = max(mx, v)
					m.Data[bi*nFramesOut+frame] = float32(v)
				}
			}
			for p := w; p < pairs; p += workers {
				f0, f1 := 2*p, 2*p+1
				for i := range nFFT {
					a[i] = at(f0*hopLength+i) * window[i]
					if f1 < nFramesOut {
						b[i] = at(f1*hopLength+i) * window[i]
					} else {
						b[i] = 0
					}
				}
				plan.realPairDFT(a, b, pa, pb, in, out, scratch)
				emit(f0, pa)
				if f1 < nFramesOut {
					emit(f1, pb)
				}
			}
			maxes[w] = mx
		}()
	}
	wg.Wait()

	// The clamp uses the float64 maximum; rounding each value to float32
	// first would move it by up to 1e-7 relative, well inside tolerance.
	mx := math.Inf(-1)
	for _, v := range maxes {
		mx = max(mx, v)
	}
	floor := float32(mx - 8)
	for i, v := range m.Data {
		m.Data[i] = (max(v, floor) + 4) / 4
	}
	return m
}

// Window returns frames [start, start+n) of every band, zero-filled (as
// openai/whisper's pad_or_trim does) up to nFrames columns: the encoder's
// input for one 30 s window.
func (m *Mel) Window(start, n int) []float32 {
	out := make([]float32, m.NMels*nFrames)
	n = max(0, min(n, m.NFrames-start, nFrames))
	for b := range m.NMels {
		copy(out[b*nFrames:b*nFrames+n], m.Data[b*m.NFrames+start:])
	}
	return out
}
