package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf8"
)

// ErrCorrupt is wrapped by every error that describes a malformed file, so
// callers can tell "not a usable model file" from an I/O failure.
var ErrCorrupt = errors.New("corrupt GGUF file")

// Limits that keep a hostile header from making the reader allocate much
// more than the file justifies. Real models stay far below them: the largest
// tokenizer arrays hold ~260k entries, chat templates a few KiB.
const (
	maxTensors   = 1 << 17
	maxKVs       = 1 << 16
	maxKeyLen    = 1 << 16
	maxStringLen = 16 << 20
	maxArrayLen  = 1 << 26
	maxNameLen   = 63 // ggml's GGML_MAX_NAME is 64 including the NUL
	maxDims      = 4
	magic        = "GGUF"
)

// File is a GGUF header: metadata and tensor infos, never tensor data.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // where tensor data starts, aligned
	index      map[string]int
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// Value is a metadata value. The reader keeps scalars and strings; of an
// array it keeps only the element type and length (their contents, such as
// a tokenizer's vocabulary, are skipped, not stored).
type Value struct {
	Type      ValueType
	ArrayType ValueType // for ValArray
	ArrayLen  uint64    // for ValArray
	scalar    any       // uint64, int64, float64, bool or string
	array     any       // writer only: []string, []float32, []int32
}

// TensorInfo describes one tensor; Offset is relative to File.DataOffset.
type TensorInfo struct {
	Name   string
	Type   TensorType
	Dims   []uint64
	Offset uint64
	Size   uint64 // bytes of data
}

// Elements is the tensor's element count.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// ReadFile opens path, reads its header and validates it against the file's
// size.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	h, err := ReadHeader(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := h.Validate(st.Size()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// reader tracks how many bytes remain so that every length read from the
// file is checked against what the file can still hold.
type reader struct {
	r    *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func (r *reader) need(n uint64) error {
	if n > uint64(r.size-r.pos) {
		return corrupt("truncated at byte %d: need %d more bytes, file has %d", r.pos, n, r.size-r.pos)
	}
	return nil
}

func (r *reader) read(n int) ([]byte, error) {
	if err := r.need(uint64(n)); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(r.r, r.buf[:n]); err != nil {
		return nil, corrupt("read at byte %d: %v", r.pos, err)
	}
	r.pos += int64(n)
	return r.buf[:n], nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (r *reader) skip(n uint64) error {
	if err := r.need(n); err != nil {
		return err
	}
	if _, err := r.r.Discard(int(n)); err != nil {
		return corrupt("read at byte %d: %v", r.pos, err)
	}
	r.pos += int64(n)
	return nil
}

func (r *reader) str(limit uint64, what string) (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	if n > limit {
		return "", corrupt("%s of %d bytes exceeds the limit of %d", what, n, limit)
	}
	if err := r.need(n); err != nil {
		return "", err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return "", corrupt("read at byte %d: %v", r.pos, err)
	}
	r.pos += int64(n)
	return string(b), nil
}

// ReadHeader reads a GGUF header from r, whose total size is size bytes.
// It reads no tensor data. The result still needs Validate(size).
func ReadHeader(r io.Reader, size int64) (*File, error) {
	rd := &reader{r: bufio.NewReaderSize(r, 64<<10), size: size}
	b, err := rd.read(4)
	if err != nil {
		return nil, corrupt("file too short for a GGUF header (%d bytes)", size)
	}
	if string(b) != magic {
		return nil, corrupt("bad magic %q: not a GGUF file", b)
	}
	f := &File{index: map[string]int{}}
	if f.Version, err = rd.u32(); err != nil {
		return nil, err
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, corrupt("unsupported GGUF version %d (want 2 or 3)", f.Version)
	}
	nTensors, err := rd.u64()
	if err != nil {
		return nil, err
	}
	nKV, err := rd.u64()
	if err != nil {
		return nil, err
	}
	if nTensors > maxTensors {
		return nil, corrupt("%d tensors exceeds the limit of %d", nTensors, maxTensors)
	}
	if nKV > maxKVs {
		return nil, corrupt("%d metadata entries exceeds the limit of %d", nKV, maxKVs)
	}
	// Each entry takes at least 12 bytes, each tensor info at least 28.
	if err := rd.need(nKV*12 + nTensors*28); err != nil {
		return nil, err
	}
	f.KV = make([]KV, 0, nKV)
	for i := uint64(0); i < nKV; i++ {
		key, err := rd.str(maxKeyLen, "metadata key")
		if err != nil {
			return nil, fmt.Errorf("metadata entry %d: %w", i, err)
		}
		if _, dup := f.index[key]; dup {
			return nil, corrupt("duplicate metadata key %q", key)
		}
		v, err := rd.value()
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		f.index[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	f.Alignment = 32
	if v, ok := f.lookup("general.alignment"); ok {
		a, isU32 := v.scalar.(uint64)
		if v.Type != ValUint32 || !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, corrupt("general.alignment must be a power-of-two uint32")
		}
		f.Alignment = a
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	names := make(map[string]bool, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t, err := rd.tensorInfo(f.Alignment)
		if err != nil {
			return nil, fmt.Errorf("tensor info %d: %w", i, err)
		}
		if names[t.Name] {
			return nil, corrupt("duplicate tensor %q", t.Name)
		}
		names[t.Name] = true
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = uint64(rd.pos)
	if pad := f.DataOffset % f.Alignment; pad != 0 {
		f.DataOffset += f.Alignment - pad
	}
	return f, nil
}

func (r *reader) value() (Value, error) {
	t, err := r.u32()
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: ValueType(t)}
	switch {
	case !v.Type.valid():
		return v, corrupt("unknown value type %d", t)
	case v.Type == ValString:
		s, err := r.str(maxStringLen, "string")
		v.scalar = s
		return v, err
	case v.Type == ValArray:
		et, err := r.u32()
		if err != nil {
			return v, err
		}
		v.ArrayType = ValueType(et)
		if !v.ArrayType.valid() || v.ArrayType == ValArray {
			return v, corrupt("bad array element type %d", et)
		}
		if v.ArrayLen, err = r.u64(); err != nil {
			return v, err
		}
		if v.ArrayLen > maxArrayLen {
			return v, corrupt("array of %d elements exceeds the limit of %d", v.ArrayLen, maxArrayLen)
		}
		if sz := v.ArrayType.scalarSize(); sz > 0 {
			return v, r.skip(v.ArrayLen * uint64(sz))
		}
		// Strings: each has at least its 8-byte length.
		if err := r.need(v.ArrayLen * 8); err != nil {
			return v, err
		}
		for i := uint64(0); i < v.ArrayLen; i++ {
			n, err := r.u64()
			if err != nil {
				return v, err
			}
			if n > maxStringLen {
				return v, corrupt("array string of %d bytes exceeds the limit", n)
			}
			if err := r.skip(n); err != nil {
				return v, err
			}
		}
		return v, nil
	}
	b, err := r.read(v.Type.scalarSize())
	if err != nil {
		return v, err
	}
	switch v.Type {
	case ValUint8:
		v.scalar = uint64(b[0])
	case ValInt8:
		v.scalar = int64(int8(b[0]))
	case ValUint16:
		v.scalar = uint64(binary.LittleEndian.Uint16(b))
	case ValInt16:
		v.scalar = int64(int16(binary.LittleEndian.Uint16(b)))
	case ValUint32:
		v.scalar = uint64(binary.LittleEndian.Uint32(b))
	case ValInt32:
		v.scalar = int64(int32(binary.LittleEndian.Uint32(b)))
	case ValUint64:
		v.scalar = binary.LittleEndian.Uint64(b)
	case ValInt64:
		v.scalar = int64(binary.LittleEndian.Uint64(b))
	case ValFloat32:
		v.scalar = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case ValFloat64:
		v.scalar = math.Float64frombits(binary.LittleEndian.Uint64(b))
	case ValBool:
		if b[0] > 1 {
			return v, corrupt("bool value %d", b[0])
		}
		v.scalar = b[0] == 1
	}
	return v, nil
}

func (r *reader) tensorInfo(align uint64) (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = r.str(maxNameLen, "tensor name"); err != nil {
		return t, err
	}
	if !utf8.ValidString(t.Name) || strings.IndexByte(t.Name, 0) >= 0 {
		return t, corrupt("tensor name %q is not valid text", t.Name)
	}
	nd, err := r.u32()
	if err != nil {
		return t, err
	}
	if nd == 0 || nd > maxDims {
		return t, corrupt("tensor %q has %d dimensions (want 1..%d)", t.Name, nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	elements := uint64(1)
	for i := range t.Dims {
		if t.Dims[i], err = r.u64(); err != nil {
			return t, err
		}
		d := t.Dims[i]
		if d > math.MaxInt64 || (d != 0 && elements > math.MaxInt64/d) {
			return t, corrupt("tensor %q dimensions overflow", t.Name)
		}
		elements *= d
	}
	typ, err := r.u32()
	if err != nil {
		return t, err
	}
	t.Type = TensorType(typ)
	if !t.Type.Known() {
		return t, corrupt("tensor %q has unknown type %d", t.Name, typ)
	}
	if t.Dims[0]%t.Type.BlockSize() != 0 {
		return t, corrupt("tensor %q: row of %d elements is not a whole number of %s blocks", t.Name, t.Dims[0], t.Type)
	}
	size, _ := t.Type.DataSize(elements)
	t.Size = size
	if t.Offset, err = r.u64(); err != nil {
		return t, err
	}
	if t.Offset%align != 0 {
		return t, corrupt("tensor %q offset %d is not aligned to %d", t.Name, t.Offset, align)
	}
	return t, nil
}

// Validate checks that the tensors are laid out as llama.cpp expects (in
// order, each aligned, no gaps) and that their data fits in a file of size
// bytes.
func (f *File) Validate(size int64) error {
	var want uint64
	for _, t := range f.Tensors {
		if t.Offset != want {
			return corrupt("tensor %q at offset %d, expected %d", t.Name, t.Offset, want)
		}
		padded := t.Size + (f.Alignment-t.Size%f.Alignment)%f.Alignment
		if padded < t.Size || want+padded < want {
			return corrupt("tensor %q size overflows", t.Name)
		}
		want += padded
	}
	if size < 0 || f.DataOffset > uint64(size) || want > uint64(size)-f.DataOffset {
		return corrupt("tensor data needs %d bytes after offset %d, file has %d bytes (truncated?)", want, f.DataOffset, size)
	}
	return nil
}

func (f *File) lookup(key string) (Value, bool) {
	i, ok := f.index[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// String returns a string metadata value.
func (f *File) String(key string) (string, bool) {
	v, ok := f.lookup(key)
	s, isStr := v.scalar.(string)
	return s, ok && isStr
}

// Uint returns a non-negative integer metadata value of any integer type.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.lookup(key)
	if !ok {
		return 0, false
	}
	switch x := v.scalar.(type) {
	case uint64:
		return x, true
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Bool returns a boolean metadata value.
func (f *File) Bool(key string) (bool, bool) {
	v, ok := f.lookup(key)
	b, isB := v.scalar.(bool)
	return b, ok && isB
}

// Float returns a floating-point metadata value.
func (f *File) Float(key string) (float64, bool) {
	v, ok := f.lookup(key)
	x, isF := v.scalar.(float64)
	return x, ok && isF
}

// ArrayLen returns the length of an array metadata value.
func (f *File) ArrayLen(key string) (uint64, bool) {
	v, ok := f.lookup(key)
	return v.ArrayLen, ok && v.Type == ValArray
}

// Architecture is general.architecture, e.g. "llama".
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// ArchUint reads "<architecture>.<key>", e.g. ArchUint("block_count").
func (f *File) ArchUint(key string) (uint64, bool) {
	return f.Uint(f.Architecture() + "." + key)
}

// ParamCount is the total number of tensor elements.
func (f *File) ParamCount() uint64 {
	var n uint64
	for _, t := range f.Tensors {
		n += t.Elements()
	}
	return n
}

// DataSize is the number of bytes of tensor data.
func (f *File) DataSize() uint64 {
	var n uint64
	for _, t := range f.Tensors {
		n += t.Size
	}
	return n
}
