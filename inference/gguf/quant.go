package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Encode appends src, a whole number of rows, to dst in type t. F32, F16,
// Q8_0 and Q4_0 are supported; the block layouts and rounding follow ggml's
// reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) so that
// llama.cpp dequantizes them to what was meant.
func Encode(t TensorType, dst []byte, src []float32) ([]byte, error) {
	switch t {
	case TypeF32:
		for _, x := range src {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	case TypeF16:
		for _, x := range src {
			dst = binary.LittleEndian.AppendUint16(dst, F16(x))
		}
	case TypeQ8_0:
		if len(src)%32 != 0 {
			return nil, fmt.Errorf("gguf: Q8_0 needs a multiple of 32 values, got %d", len(src))
		}
		for b := 0; b < len(src); b += 32 {
			dst = appendQ8_0(dst, src[b:b+32])
		}
	case TypeQ4_0:
		if len(src)%32 != 0 {
			return nil, fmt.Errorf("gguf: Q4_0 needs a multiple of 32 values, got %d", len(src))
		}
		for b := 0; b < len(src); b += 32 {
			dst = appendQ4_0(dst, src[b:b+32])
		}
	default:
		return nil, fmt.Errorf("gguf: encoding %s is not supported", t)
	}
	return dst, nil
}

func appendQ8_0(dst []byte, x []float32) []byte {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	dst = binary.LittleEndian.AppendUint16(dst, F16(d))
	for _, v := range x {
		dst = append(dst, byte(int8(roundHalfAway(v*id))))
	}
	return dst
}

func appendQ4_0(dst []byte, x []float32) []byte {
	// The scale maps the value of largest magnitude to -8, the one end of
	// the signed 4-bit range that has no positive counterpart.
	var amax, mx float32
	for _, v := range x {
		if abs32(v) > amax {
			amax, mx = abs32(v), v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	dst = binary.LittleEndian.AppendUint16(dst, F16(d))
	for j := 0; j < 16; j++ {
		lo := min(15, int8(x[j]*id+8.5))
		hi := min(15, int8(x[j+16]*id+8.5))
		dst = append(dst, byte(lo)|byte(hi)<<4)
	}
	return dst
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

func roundHalfAway(x float32) float32 { return float32(math.Round(float64(x))) }

// F16 converts to IEEE half precision, rounding to nearest even.
func F16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b&0x7fffffff == 0:
		return sign
	case b>>23&0xff == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 0x1f:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is still correct
	}
	return sign | uint16(r)
}

// F16ToF32 converts IEEE half precision to float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant × 2^-24
		f := float32(mant) / (1 << 24)
		return math.Float32frombits(sign | math.Float32bits(f))
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
