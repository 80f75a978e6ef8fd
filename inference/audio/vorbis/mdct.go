package vorbis

import (
	"math"
	"math/bits"
)

// imdct computes Vorbis's inverse MDCT of one block size:
//
//	y[n] = sum_{k<N/2} X[k] cos(2π/N (n + 1/2 + N/4)(k + 1/2)),  n < N
//
// as a DCT-IV of size M = N/2 unfolded by symmetry, and the DCT-IV as an
// M/2-point complex FFT between two twiddle multiplications:
//
//	u[2n] = Re C[n], u[M-1-2n] = -Im C[n], C = post · FFT(pre · z),
//	z[p] = X[2p] + i X[M-1-2p]
//
// where pre[p] = exp(-iπ(p+1/8)/M) and post the same in n.
type imdct struct {
	n      int
	twid   []complex64 // pre/post twiddle, M/2 values
	roots  []complex64 // FFT roots of unity exp(-2πik/(M/2)), k < M/4
	bitrev []int32
	buf    []complex64
	u      []float32
}

func newIMDCT(n int) *imdct {
	m := n / 2
	q := m / 2
	t := &imdct{
		n:      n,
		twid:   make([]complex64, q),
		roots:  make([]complex64, max(q/2, 1)),
		bitrev: make([]int32, q),
		buf:    make([]complex64, q),
		u:      make([]float32, m),
	}
	for p := range t.twid {
		a := -math.Pi * (float64(p) + 0.125) / float64(m)
		t.twid[p] = complex(float32(math.Cos(a)), float32(math.Sin(a)))
	}
	for k := range t.roots {
		a := -2 * math.Pi * float64(k) / float64(q)
		t.roots[k] = complex(float32(math.Cos(a)), float32(math.Sin(a)))
	}
	shift := 32 - uint(bits.Len(uint(q))-1)
	for i := range t.bitrev {
		t.bitrev[i] = int32(bits.Reverse32(uint32(i)) >> shift)
	}
	if q == 1 {
		t.bitrev[0] = 0
	}
	return t
}

// inverse writes the N outputs for the N/2 coefficients x into y.
func (t *imdct) inverse(x, y []float32) {
	m := t.n / 2
	q := m / 2
	buf := t.buf
	for p := 0; p < q; p++ {
		z := complex(x[2*p], x[m-1-2*p])
		buf[t.bitrev[p]] = z * t.twid[p]
	}
	// Iterative radix-2 decimation-in-time FFT on bit-reversed input.
	for size := 2; size <= q; size <<= 1 {
		half := size / 2
		stride := q / size
		for start := 0; start < q; start += size {
			for k := 0; k < half; k++ {
				w := t.roots[k*stride]
				a := buf[start+k]
				b := buf[start+k+half] * w
				buf[start+k] = a + b
				buf[start+k+half] = a - b
			}
		}
	}
	u := t.u
	for k := 0; k < q; k++ {
		c := buf[k] * t.twid[k]
		u[2*k] = real(c)
		u[m-1-2*k] = -imag(c)
	}
	// Unfold the DCT-IV into the N-point IMDCT output.
	h := m / 2
	for i := 0; i < h; i++ {
		y[i] = u[i+h]
	}
	for i := h; i < 3*h; i++ {
		y[i] = -u[3*h-1-i]
	}
	for i := 3 * h; i < 2*m; i++ {
		y[i] = -u[i-3*h]
	}
}
