package whispertest

import (
	"math"
	"math/rand/v2"
)

// MelFilters returns librosa.filters.mel(sr=16000, n_fft=400, n_mels)
// with librosa's defaults (Slaney mel scale and area normalisation), which
// is what openai/whisper's mel_filters.npz holds, row-major [nMels][201].
func MelFilters(nMels int) []float32 {
	const sr, nFFT = 16000.0, 400
	nBins := nFFT/2 + 1
	hzToMel := func(f float64) float64 {
		const fsp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 1000.0 / (200.0 / 3)
		logstep := math.Log(6.4) / 27
		if f >= minLogHz {
			return minLogMel + math.Log(f/minLogHz)/logstep
		}
		return f / fsp
	}
	melToHz := func(m float64) float64 {
		const fsp, minLogHz, minLogMel = 200.0 / 3, 1000.0, 1000.0 / (200.0 / 3)
		logstep := math.Log(6.4) / 27
		if m >= minLogMel {
			return minLogHz * math.Exp(logstep*(m-minLogMel))
		}
		return fsp * m
	}
	fftFreqs := make([]float64, nBins)
	for i := range fftFreqs {
		fftFreqs[i] = float64(i) * sr / nFFT
	}
	lo, hi := hzToMel(0), hzToMel(sr/2)
	melF := make([]float64, nMels+2)
	for i := range melF {
		melF[i] = melToHz(lo + (hi-lo)*float64(i)/float64(nMels+1))
	}
	out := make([]float32, nMels*nBins)
	for m := range nMels {
		enorm := 2 / (melF[m+2] - melF[m])
		for k, f := range fftFreqs {
			lower := (f - melF[m]) / (melF[m+1] - melF[m])
			upper := (melF[m+2] - f) / (melF[m+2] - melF[m+1])
			out[m*nBins+k] = float32(max(0, min(lower, upper)) * enorm)
		}
	}
	return out
}

// gpt2ByteOrder is the order of GPT-2's 256 single-byte tokens: printable
// Latin-1 first, then the rest ascending.
func gpt2ByteOrder() []byte {
	var bs []byte
	in := make([]bool, 256)
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			bs = append(bs, byte(b))
			in[b] = true
		}
	}
	for b := range 256 {
		if !in[b] {
			bs = append(bs, byte(b))
		}
	}
	return bs
}

// Vocab returns n ordinary tokens: the 256 bytes in GPT-2's order, then
// merges of two earlier printable tokens (so byte-pair encoding works on
// them, as on a real BPE vocabulary), and the random-weights marker last.
func Vocab(n int, marker []byte, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0x766f636162))
	toks := make([][]byte, 0, n)
	seen := make(map[string]bool, n)
	var printable []int // ids of tokens made of printable ASCII
	for _, b := range gpt2ByteOrder() {
		if len(toks) == n-1 {
			break
		}
		if b >= 0x20 && b < 0x7f {
			printable = append(printable, len(toks))
		}
		toks = append(toks, []byte{b})
		seen[string([]byte{b})] = true
	}
	for len(toks) < n-1 {
		a := toks[printable[rng.IntN(len(printable))]]
		b := toks[printable[rng.IntN(len(printable))]]
		if len(a)+len(b) > 10 {
			continue
		}
		t := append(append([]byte{}, a...), b...)
		if seen[string(t)] {
			continue
		}
		seen[string(t)] = true
		printable = append(printable, len(toks))
		toks = append(toks, t)
	}
	return append(toks, marker)
}
