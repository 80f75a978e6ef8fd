package whispertest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/outposthq/outpost/inference/whisper"
)

// WriteFile writes a random-weight model with dimensions h to path.
func WriteFile(path string, h whisper.Hparams, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, h, seed); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// Write writes a whisper.cpp model file with dimensions h and random
// weights drawn from seed. Equal arguments give identical bytes.
//
// The weight scales follow the oracle's (attention q/k 1.5/√n, v/out and
// mlp.0 1/√n, mlp.2 1/√(4n), biases 0.05, LayerNorm gains 1±0.1, sinusoidal
// encoder positions), which keep attention non-uniform and activations
// finite at every size.
func Write(w io.Writer, h whisper.Hparams, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr []byte
	le := binary.LittleEndian
	for _, v := range []int{0x67676d6c, h.NVocab, h.NAudioCtx, h.NAudioState, h.NAudioHead, h.NAudioLayer,
		h.NTextCtx, h.NTextState, h.NTextHead, h.NTextLayer, h.NMels, h.FType, h.NMels, 201} {
		hdr = le.AppendUint32(hdr, uint32(int32(v)))
	}
	hdr = appendF32(hdr, MelFilters(h.NMels))
	nTok := 50256
	if h.Multilingual() {
		nTok = 50257
	}
	vocab := Vocab(nTok, whisper.RandomMarker(), seed)
	hdr = le.AppendUint32(hdr, uint32(len(vocab)))
	for _, t := range vocab {
		hdr = le.AppendUint32(hdr, uint32(len(t)))
		hdr = append(hdr, t...)
	}
	if _, err := bw.Write(hdr); err != nil {
		return err
	}

	specs := h.TensorSpecs()
	for i, s := range specs {
		var rec []byte
		rec = le.AppendUint32(rec, uint32(len(s.Shape)))
		rec = le.AppendUint32(rec, uint32(len(s.Name)))
		rec = le.AppendUint32(rec, uint32(s.Type))
		for _, d := range s.Shape {
			rec = le.AppendUint32(rec, uint32(d))
		}
		rec = append(rec, s.Name...)
		if _, err := bw.Write(rec); err != nil {
			return err
		}
		data, err := tensorData(s, h, seed, uint64(i))
		if err != nil {
			return err
		}
		if _, err := bw.Write(data); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// chunk is the unit of parallel generation; each has its own stream, so
// the bytes do not depend on the number of CPUs.
const chunk = 1 << 18

func tensorData(s whisper.TensorSpec, h whisper.Hparams, seed, index uint64) ([]byte, error) {
	n := 1
	for _, d := range s.Shape {
		n *= int(d)
	}
	values := make([]float32, n)
	if s.Name == "encoder.positional_embedding" {
		sinusoids(values, int(s.Shape[1]), int(s.Shape[0]))
	} else {
		mean, std := scale(s.Name, h)
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for c := 0; c*chunk < n; c++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				rng := rand.New(rand.NewPCG(seed, index<<32|uint64(c)))
				for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
					values[i] = float32(mean + std*rng.NormFloat64())
				}
			}()
		}
		wg.Wait()
	}
	switch s.Type {
	case whisper.TypeF32:
		return appendF32(make([]byte, 0, 4*n), values), nil
	case whisper.TypeF16:
		return appendF16(make([]byte, 0, 2*n), values), nil
	case whisper.TypeQ8_0:
		return appendQ8_0(make([]byte, 0, n/32*34), values), nil
	}
	return nil, fmt.Errorf("whispertest: cannot write %v tensors", s.Type)
}

// scale returns the mean and standard deviation of a tensor's values.
func scale(name string, h whisper.Hparams) (mean, std float64) {
	n := float64(h.NTextState)
	switch {
	case strings.HasSuffix(name, "_ln.weight") || strings.HasSuffix(name, "ln_post.weight") || name == "decoder.ln.weight":
		return 1, 0.1
	case strings.HasSuffix(name, ".bias"):
		return 0, 0.05
	case strings.HasSuffix(name, "query.weight") || strings.HasSuffix(name, "key.weight"):
		return 0, 1.5 / math.Sqrt(n)
	case strings.HasSuffix(name, "value.weight") || strings.HasSuffix(name, "out.weight") || strings.HasSuffix(name, "mlp.0.weight"):
		return 0, 1 / math.Sqrt(n)
	case strings.HasSuffix(name, "mlp.2.weight"):
		return 0, 1 / math.Sqrt(4*n)
	case name == "encoder.conv1.weight":
		return 0, 1 / math.Sqrt(3*float64(h.NMels))
	case name == "encoder.conv2.weight":
		return 0, 1 / math.Sqrt(3*n)
	}
	return 0, 0.1 // token and decoder positional embeddings
}

// sinusoids fills v ([length][channels] row-major) with openai/whisper's
// encoder positional embedding: sin then cos of position × geometric
// timescales from 1 to 10000.
func sinusoids(v []float32, length, channels int) {
	half := channels / 2
	inc := math.Log(10000) / float64(half-1)
	for t := range length {
		for k := range half {
			x := float64(t) * math.Exp(-inc*float64(k))
			v[t*channels+k] = float32(math.Sin(x))
			v[t*channels+half+k] = float32(math.Cos(x))
		}
	}
}
