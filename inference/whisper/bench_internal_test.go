package whisper

import (
	"testing"
)

func BenchmarkOracleDecodeStep(b *testing.B) {
	dir := oracleDir(b)
	m := loadOracleModel(b, dir)
	mel := readF32(b, dir+"/mel.f32")
	af, err := m.encode(b.Context(), nil, mel, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, nSeq := range []int{1, 5} {
		b.Run("seq"+string(rune('0'+nSeq)), func(b *testing.B) {
			kv := m.newKVCache(nSeq)
			defer kv.close()
			toks := make([][]int, nSeq)
			outs := make([]int, nSeq)
			for i := range toks {
				toks[i] = []int{50257}
				outs[i] = i
			}
			for b.Loop() {
				if kv.n+1 >= kv.nCtx {
					kv.n = 0
				}
				if _, err := m.decode(b.Context(), nil, af, kv, toks, outs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			af, err := m.encode(b.Context(), nil, mel, nil)
			if err != nil {
				b.Fatal(err)
			}
			af.close()
		}
	})
}
