package whisper

import "fmt"

// GGMLType is a ggml tensor element type as whisper.cpp stores it in a
// tensor record (the values are ggml's enum ggml_type).
type GGMLType uint32

// The element types a whisper.cpp model file may hold. whisper.cpp's
// quantize tool writes q4_0, q4_1, q5_0, q5_1 and q8_0 for matrices and keeps
// everything else in f16/f32.
const (
	TypeF32  GGMLType = 0
	TypeF16  GGMLType = 1
	TypeQ4_0 GGMLType = 2
	TypeQ4_1 GGMLType = 3
	TypeQ5_0 GGMLType = 6
	TypeQ5_1 GGMLType = 7
	TypeQ8_0 GGMLType = 8
)

type typeTraits struct {
	name      string
	blockSize int64 // elements per block
	typeSize  int64 // bytes per block
}

var ggmlTypes = map[GGMLType]typeTraits{
	TypeF32:  {"f32", 1, 4},
	TypeF16:  {"f16", 1, 2},
	TypeQ4_0: {"q4_0", 32, 18},
	TypeQ4_1: {"q4_1", 32, 20},
	TypeQ5_0: {"q5_0", 32, 22},
	TypeQ5_1: {"q5_1", 32, 24},
	TypeQ8_0: {"q8_0", 32, 34},
}

func (t GGMLType) String() string {
	if tr, ok := ggmlTypes[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("ggml_type(%d)", uint32(t))
}

// quantized reports whether t is one of the block-quantized types.
func (t GGMLType) quantized() bool {
	tr, ok := ggmlTypes[t]
	return ok && tr.blockSize > 1
}

// rowBytes returns the byte size of n elements of type t, or an error when n
// is not a whole number of blocks.
func (t GGMLType) rowBytes(n int64) (int64, error) {
	tr, ok := ggmlTypes[t]
	if !ok {
		return 0, fmt.Errorf("unsupported tensor type %d", uint32(t))
	}
	if n%tr.blockSize != 0 {
		return 0, fmt.Errorf("%d elements of %s are not a whole number of %d-element blocks", n, tr.name, tr.blockSize)
	}
	return n / tr.blockSize * tr.typeSize, nil
}

// FileType is whisper.cpp's ftype header field modulo 1000 (ggml_ftype): the
// type most weight matrices are stored in.
type FileType int

// The file types whisper.cpp writes.
const (
	FileTypeF32  FileType = 0
	FileTypeF16  FileType = 1
	FileTypeQ4_0 FileType = 2
	FileTypeQ4_1 FileType = 3
	FileTypeQ8_0 FileType = 7
	FileTypeQ5_0 FileType = 8
	FileTypeQ5_1 FileType = 9
)

var fileTypes = map[FileType]GGMLType{
	FileTypeF32:  TypeF32,
	FileTypeF16:  TypeF16,
	FileTypeQ4_0: TypeQ4_0,
	FileTypeQ4_1: TypeQ4_1,
	FileTypeQ8_0: TypeQ8_0,
	FileTypeQ5_0: TypeQ5_0,
	FileTypeQ5_1: TypeQ5_1,
}

// WeightType is the tensor type of the file's weight matrices.
func (f FileType) WeightType() GGMLType { return fileTypes[f] }

func (f FileType) String() string {
	if t, ok := fileTypes[f]; ok {
		return t.String()
	}
	return fmt.Sprintf("ftype(%d)", int(f))
}
