package whispertest

import (
	"encoding/binary"
	"math"
)

// f16 converts to IEEE binary16 with round-to-nearest-even, as ggml's
// converter (numpy astype(float16)) does.
func f16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf, NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15: // overflow
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		e := uint32(exp-127+15) << 10
		m := mant >> 13
		rest := mant & 0x1fff
		v := e | m
		if rest > 0x1000 || (rest == 0x1000 && v&1 == 1) {
			v++ // may carry into the exponent, which is still correct
		}
		return sign | uint16(v)
	case exp-127 >= -25: // subnormal in f16
		m := mant | 0x800000
		shift := uint(-14-(exp-127)) + 13
		v := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && v&1 == 1) {
			v++
		}
		return sign | uint16(v)
	}
	return sign
}

// f16ToF32 is the exact inverse widening.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// appendF32 appends v as little-endian f32.
func appendF32(dst []byte, v []float32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	}
	return dst
}

func appendF16(dst []byte, v []float32) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint16(dst, f16(x))
	}
	return dst
}

// appendQ8_0 quantizes v (a multiple of 32 values) into ggml's q8_0
// blocks: an f16 scale max|x|/127, then 32 int8 values rounded half away
// from zero, as ggml's quantize_row_q8_0_ref does.
func appendQ8_0(dst []byte, v []float32) []byte {
	for len(v) >= 32 {
		blk := v[:32]
		v = v[32:]
		var amax float32
		for _, x := range blk {
			amax = max(amax, float32(math.Abs(float64(x))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		dst = binary.LittleEndian.AppendUint16(dst, f16(d))
		for _, x := range blk {
			dst = append(dst, byte(int8(math.Round(float64(x*id)))))
		}
	}
	return dst
}
