package audio

import (
	"math"
)

// Resampler design. A windowed-sinc low-pass evaluated at the fractional
// input position of every output sample (polyphase: one precomputed row of
// taps per phase). The Kaiser window is designed for
//
//   - stopband attenuation 100 dB from the lower Nyquist frequency up, so
//     nothing aliases back into the output band;
//   - passband flat to within 0.0001 dB up to 90% of the lower Nyquist;
//
// comparable to libsamplerate's SRC_SINC_MEDIUM_QUALITY and soxr's medium
// quality. When the reduced ratio has at most maxExactPhases phases (every
// common rate: 44.1 kHz → 16 kHz has 160) each phase is exact; otherwise
// 1024 phases are tabulated and interpolated linearly, which keeps the
// interpolation error below -95 dB.
const (
	stopbandDB     = 100
	passbandEdge   = 0.90 // of the lower Nyquist frequency
	maxExactPhases = 1024
	interpPhases   = 1024
)

// Resample converts mono samples from fromRate to toRate with a band-limited
// windowed-sinc filter. It returns a new slice of ceil(len(in)·toRate/fromRate)
// samples, or nil when either rate is not positive.
func Resample(in []float32, fromRate, toRate int) []float32 {
	if fromRate <= 0 || toRate <= 0 {
		return nil
	}
	if fromRate == toRate {
		return append([]float32(nil), in...)
	}
	r := newResampler(fromRate, toRate)
	out := make([]float32, 0, int(int64(len(in))*int64(toRate)/int64(fromRate))+1)
	out = r.process(out, in)
	return r.flush(out)
}

// resampler is a streaming polyphase resampler. Output sample k sits at
// input position k·m/l (l/m is toRate/fromRate in lowest terms); it is the
// dot product of the 2·half input samples around that position with the
// kernel row for its fractional part.
type resampler struct {
	l, m   int64
	half   int       // taps on each side of the output position
	taps   int       // 2·half
	phases int64     // rows in table
	exact  bool      // phases == l: no interpolation between rows
	table  []float32 // phases+1 rows of taps

	hist    []float32 // input from index base on
	base    int64     // input index of hist[0]
	k       int64     // next output index
	inCount int64     // input samples seen
}

func newResampler(fromRate, toRate int) *resampler {
	g := gcd(fromRate, toRate)
	r := &resampler{l: int64(toRate / g), m: int64(fromRate / g)}
	// Cutoff and transition band in cycles per input sample.
	nyq := 0.5 * float64(min(fromRate, toRate)) / float64(fromRate)
	transition := (1 - passbandEdge) * nyq
	cutoff := nyq - transition/2
	// Kaiser's formulas for the window length and shape.
	length := (stopbandDB - 7.95) / (14.36 * transition)
	beta := 0.1102 * (stopbandDB - 8.7)
	r.half = int(math.Ceil(length/2)) + 1
	r.taps = 2 * r.half
	r.exact = r.l <= maxExactPhases
	r.phases = interpPhases
	if r.exact {
		r.phases = r.l
	}
	r.table = make([]float32, (r.phases+1)*int64(r.taps))
	i0beta := besselI0(beta)
	for p := int64(0); p <= r.phases; p++ {
		frac := float64(p) / float64(r.phases)
		row := r.table[p*int64(r.taps) : (p+1)*int64(r.taps)]
		sum := 0.0
		vals := make([]float64, r.taps)
		for s := range row {
			// Tap s multiplies input index floor(pos)-half+1+s; d is the
			// distance from the output position to that input sample.
			d := frac + float64(r.half-1-s)
			x := d / float64(r.half)
			w := 0.0
			if x > -1 && x < 1 {
				w = besselI0(beta*math.Sqrt(1-x*x)) / i0beta
			}
			v := 2 * cutoff * sinc(2*cutoff*d) * w
			vals[s] = v
			sum += v
		}
		// Unity gain at DC for every phase.
		for s, v := range vals {
			row[s] = float32(v / sum)
		}
	}
	// Zeros before the first input sample so that early outputs see a
	// full window.
	r.hist = make([]float32, r.half)
	r.base = -int64(r.half)
	return r
}

// process appends every output sample whose window lies within the input
// seen so far.
func (r *resampler) process(out, in []float32) []float32 {
	r.inCount += int64(len(in))
	r.hist = append(r.hist, in...)
	end := r.base + int64(len(r.hist)) // one past the last input index held
	taps := int64(r.taps)
	for {
		num := r.k * r.m
		i := num / r.l // input index at or before the output position
		if i+int64(r.half) >= end {
			break
		}
		win := r.hist[i-int64(r.half)+1-r.base:][:r.taps]
		rem := num % r.l
		var y float32
		if r.exact {
			y = dot(win, r.table[rem*taps:(rem+1)*taps])
		} else {
			pos := rem * r.phases
			p := pos / r.l
			a := float32(pos%r.l) / float32(r.l)
			y0 := dot(win, r.table[p*taps:(p+1)*taps])
			y1 := dot(win, r.table[(p+1)*taps:(p+2)*taps])
			y = y0 + a*(y1-y0)
		}
		out = append(out, y)
		r.k++
	}
	// Drop input no later output needs.
	need := (r.k*r.m)/r.l - int64(r.half) + 1
	if drop := need - r.base; drop > 0 && drop > int64(len(r.hist))/2 {
		n := copy(r.hist, r.hist[drop:])
		r.hist = r.hist[:n]
		r.base = need
	}
	return out
}

// flush pads the input with zeros and emits the remaining outputs, for a
// total of ceil(inputs·l/m).
func (r *resampler) flush(out []float32) []float32 {
	total := (r.inCount*r.l + r.m - 1) / r.m
	out = r.process(out, make([]float32, r.half+1))
	if extra := r.k - total; extra > 0 {
		out = out[:int64(len(out))-extra]
	}
	return out
}

// dot is the filter's inner product. Eight accumulators hide the latency
// of dependent float adds; the loop conditions let the compiler drop bounds
// checks.
func dot(a, b []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	for len(a) >= 8 && len(b) >= 8 {
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
		s4 += a[4] * b[4]
		s5 += a[5] * b[5]
		s6 += a[6] * b[6]
		s7 += a[7] * b[7]
		a, b = a[8:], b[8:]
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges fast for the arguments a Kaiser window uses).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
