package gguf

import "fmt"

// TensorType is a ggml tensor element type as stored in GGUF tensor infos.
type TensorType uint32

// The ggml types the writer produces. The reader knows every type in
// typeTraits.
const (
	TypeF32  TensorType = 0
	TypeF16  TensorType = 1
	TypeQ4_0 TensorType = 2
	TypeQ8_0 TensorType = 8
)

type typeTrait struct {
	name      string
	blockSize uint64 // elements per block
	typeSize  uint64 // bytes per block
}

// typeTraits mirrors ggml's type_traits table (ggml.c) for the types that can
// appear in a GGUF file. A type missing here is rejected by the reader.
var typeTraits = map[TensorType]typeTrait{
	0:  {"F32", 1, 4},
	1:  {"F16", 1, 2},
	2:  {"Q4_0", 32, 18},
	3:  {"Q4_1", 32, 20},
	6:  {"Q5_0", 32, 22},
	7:  {"Q5_1", 32, 24},
	8:  {"Q8_0", 32, 34},
	9:  {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84},
	11: {"Q3_K", 256, 110},
	12: {"Q4_K", 256, 144},
	13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210},
	15: {"Q8_K", 256, 292},
	16: {"IQ2_XXS", 256, 66},
	17: {"IQ2_XS", 256, 74},
	18: {"IQ3_XXS", 256, 98},
	19: {"IQ1_S", 256, 50},
	20: {"IQ4_NL", 32, 18},
	21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82},
	23: {"IQ4_XS", 256, 136},
	24: {"I8", 1, 1},
	25: {"I16", 1, 2},
	26: {"I32", 1, 4},
	27: {"I64", 1, 8},
	28: {"F64", 1, 8},
	29: {"IQ1_M", 256, 56},
	30: {"BF16", 1, 2},
	34: {"TQ1_0", 256, 54},
	35: {"TQ2_0", 256, 66},
	39: {"MXFP4", 32, 17},
}

func (t TensorType) String() string {
	if tr, ok := typeTraits[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Known reports whether the reader understands the type.
func (t TensorType) Known() bool {
	_, ok := typeTraits[t]
	return ok
}

// BlockSize is the number of elements per quantization block.
func (t TensorType) BlockSize() uint64 { return typeTraits[t].blockSize }

// DataSize is the byte size of a tensor of this type with the given number
// of elements, or false if the count is not a whole number of blocks.
func (t TensorType) DataSize(elements uint64) (uint64, bool) {
	tr, ok := typeTraits[t]
	if !ok || elements%tr.blockSize != 0 {
		return 0, false
	}
	return elements / tr.blockSize * tr.typeSize, true
}

// ParseTensorType maps a name such as "q8_0" or "F16" to its type.
func ParseTensorType(s string) (TensorType, error) {
	for t, tr := range typeTraits {
		if equalFold(tr.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// ValueType is the type tag of a metadata value.
type ValueType uint32

// Metadata value types (GGUF spec).
const (
	ValUint8   ValueType = 0
	ValInt8    ValueType = 1
	ValUint16  ValueType = 2
	ValInt16   ValueType = 3
	ValUint32  ValueType = 4
	ValInt32   ValueType = 5
	ValFloat32 ValueType = 6
	ValBool    ValueType = 7
	ValString  ValueType = 8
	ValArray   ValueType = 9
	ValUint64  ValueType = 10
	ValInt64   ValueType = 11
	ValFloat64 ValueType = 12
)

// scalarSize is the encoded size of a fixed-size value type, 0 for string
// and array.
func (v ValueType) scalarSize() int {
	switch v {
	case ValUint8, ValInt8, ValBool:
		return 1
	case ValUint16, ValInt16:
		return 2
	case ValUint32, ValInt32, ValFloat32:
		return 4
	case ValUint64, ValInt64, ValFloat64:
		return 8
	}
	return 0
}

func (v ValueType) valid() bool { return v <= ValFloat64 }
