package whisper

import (
	"math"
	"math/cmplx"
)

// fftPlan is a mixed-radix decimation-in-time FFT for one length. The STFT
// only needs n = 400 = 2⁴·5², where a power-of-two FFT would need padding
// that changes the result.
type fftPlan struct {
	n       int
	factors []int
	tw      []complex128 // tw[k] = exp(-2πik/n)
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n, tw: make([]complex128, n)}
	for k := range p.tw {
		s, c := math.Sincos(-2 * math.Pi * float64(k) / float64(n))
		p.tw[k] = complex(c, s)
	}
	for m := n; m > 1; {
		f := 2
		for m%f != 0 {
			f++
		}
		p.factors = append(p.factors, f)
		m /= f
	}
	return p
}

// transform writes the DFT of in (length n) to out, using scratch of length
// n. in is not modified.
func (p *fftPlan) transform(in, out, scratch []complex128) {
	p.rec(in, 1, out, scratch, p.n, 0, 1)
}

// rec computes the size-m DFT of in[0], in[stride], ... into out[:m].
// twStep maps this level's twiddle exp(-2πi/m) onto p.tw.
func (p *fftPlan) rec(in []complex128, stride int, out, scratch []complex128, m, level, twStep int) {
	if m == 1 {
		out[0] = in[0]
		return
	}
	f := p.factors[level]
	q := m / f
	// Sub-transforms of the f interleaved subsequences land in out.
	for r := range f {
		p.rec(in[r*stride:], stride*f, out[r*q:], scratch[r*q:], q, level+1, twStep*f)
	}
	// Butterflies: X[k + s·q] = Σ_r W_m^{r(k+s·q)} · Sub_r[k].
	copy(scratch[:m], out[:m])
	for k := range q {
		for s := range f {
			idx := k + s*q
			var acc complex128
			for r := range f {
				acc += scratch[r*q+k] * p.tw[(r*idx*twStep)%p.n]
			}
			out[idx] = acc
		}
	}
}

// realPairDFT transforms two real frames with one complex FFT and returns
// their power spectra (bins 0..n/2) in pa and pb.
func (p *fftPlan) realPairDFT(a, b []float64, pa, pb []float64, in, out, scratch []complex128) {
	n := p.n
	for i := range n {
		in[i] = complex(a[i], b[i])
	}
	p.transform(in, out, scratch)
	for k := 0; k <= n/2; k++ {
		x := out[k]
		y := cmplx.Conj(out[(n-k)%n])
		fa := (x + y) / 2
		fb := (x - y) / complex(0, 2)
		pa[k] = real(fa)*real(fa) + imag(fa)*imag(fa)
		pb[k] = real(fb)*real(fb) + imag(fb)*imag(fb)
	}
}
