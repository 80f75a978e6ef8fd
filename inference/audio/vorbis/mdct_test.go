package vorbis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIMDCTMatchesDefinition checks the FFT-based transform against the
// O(N²) sum it implements, for every Vorbis block size.
func TestIMDCTMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{64, 128, 256, 512, 1024, 2048, 4096, 8192} {
		x := make([]float32, n/2)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		got := make([]float32, n)
		newIMDCT(n).inverse(x, got)
		worst := 0.0
		for _, j := range []int{0, 1, n/4 - 1, n / 4, n/2 - 1, n / 2, 3*n/4 + 1, n - 1, rng.IntN(n)} {
			want := 0.0
			for k, v := range x {
				want += float64(v) * math.Cos(2*math.Pi/float64(n)*(float64(j)+0.5+float64(n)/4)*(float64(k)+0.5))
			}
			worst = max(worst, math.Abs(want-float64(got[j]))/math.Sqrt(float64(n)))
		}
		if worst > 1e-4 {
			t.Errorf("n=%d: worst normalised error %.3g, want <= 1e-4", n, worst)
		}
	}
}
