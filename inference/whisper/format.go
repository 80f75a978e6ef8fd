package whisper

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The legacy whisper.cpp model file ("ggml" layout), all little-endian:
//
//	u32 magic 0x67676d6c, i32 hparams[11] (see Hparams),
//	i32 n_mel, i32 n_fft, f32 filters[n_mel*n_fft],
//	i32 n_tokens, n_tokens × (u32 len, len bytes),
//	tensor records until EOF: i32 n_dims, i32 name_len, i32 ttype,
//	i32 ne[n_dims], name, data (unpadded, unaligned).
//
// ReadFile checks all of it in Go before any byte reaches ggml: a record
// whose shape or type disagrees with the dimensions would make ggml abort
// the whole process.

const fileMagic = 0x67676d6c // "ggml" read as a little-endian u32

// ErrFormat is wrapped by every error about a malformed model file.
var ErrFormat = errors.New("invalid whisper model file")

// TensorInfo locates one tensor's data in the file.
type TensorInfo struct {
	Name   string
	Type   GGMLType
	Shape  []int64 // ggml ne order: Shape[0] is contiguous
	Offset int64   // file offset of the data
	Size   int64   // data bytes
}

// File is a validated whisper.cpp model file: the header, filterbank and
// vocabulary in memory, the tensors as offsets into the file.
type File struct {
	Hparams Hparams
	// Filters is the mel filterbank, row-major [NMels][nFFTBins].
	Filters []float32
	// Tokens are the ordinary vocabulary entries' bytes; entry i is id i.
	Tokens  [][]byte
	Tensors []TensorInfo
	// Size is the file length in bytes.
	Size int64
}

// Tensor returns the named tensor's record.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// OpenFile reads and validates the model file at path.
func OpenFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	f, err := ReadFile(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return f, nil
}

// ReadFile reads and validates a whisper.cpp model file of the given size.
// Tensor data is not read, only located and bounds-checked.
func ReadFile(r io.ReaderAt, size int64) (*File, error) {
	f, err := readFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return f, nil
}

// countingReader tracks the file offset of a buffered sequential read.
type countingReader struct {
	r   *bufio.Reader
	off int64
	buf [4]byte
}

func (c *countingReader) full(p []byte) error {
	n, err := io.ReadFull(c.r, p)
	c.off += int64(n)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated at byte %d", c.off)
	}
	return err
}

func (c *countingReader) i32() (int32, error) {
	if err := c.full(c.buf[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(c.buf[:])), nil
}

func readFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 4 {
		return nil, errors.New("file too short")
	}
	cr := &countingReader{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16)}
	magic, err := cr.i32()
	if err != nil {
		return nil, err
	}
	if uint32(magic) != fileMagic {
		if uint32(magic) == 0x46554747 { // "GGUF"
			return nil, errors.New("this is a GGUF file; whisper models must be in whisper.cpp's ggml layout (ggml-*.bin)")
		}
		return nil, fmt.Errorf("bad magic %#08x, want %#08x (\"ggml\")", uint32(magic), fileMagic)
	}

	var hp [11]int32
	for i := range hp {
		if hp[i], err = cr.i32(); err != nil {
			return nil, err
		}
	}
	h := Hparams{
		NVocab: int(hp[0]), NAudioCtx: int(hp[1]), NAudioState: int(hp[2]), NAudioHead: int(hp[3]),
		NAudioLayer: int(hp[4]), NTextCtx: int(hp[5]), NTextState: int(hp[6]), NTextHead: int(hp[7]),
		NTextLayer: int(hp[8]), NMels: int(hp[9]), FType: int(hp[10]),
	}
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("hparams: %w", err)
	}
	f := &File{Hparams: h, Size: size}

	// Mel filterbank.
	nMel, err := cr.i32()
	if err != nil {
		return nil, err
	}
	nFFTField, err := cr.i32()
	if err != nil {
		return nil, err
	}
	if int(nMel) != h.NMels || nFFTField != nFFTBins {
		return nil, fmt.Errorf("mel filters are %d×%d, want %d×%d", nMel, nFFTField, h.NMels, nFFTBins)
	}
	raw := make([]byte, 4*h.NMels*nFFTBins)
	if err := cr.full(raw); err != nil {
		return nil, err
	}
	f.Filters = make([]float32, h.NMels*nFFTBins)
	for i := range f.Filters {
		v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
			return nil, fmt.Errorf("mel filter value %d is %v", i, v)
		}
		f.Filters[i] = v
	}

	// Vocabulary.
	nTok, err := cr.i32()
	if err != nil {
		return nil, err
	}
	if nTok < 0 || int(nTok) > specialBase(h.NVocab) {
		return nil, fmt.Errorf("vocabulary has %d entries, want at most %d", nTok, specialBase(h.NVocab))
	}
	f.Tokens = make([][]byte, nTok)
	var arena []byte
	for i := range f.Tokens {
		n, err := cr.i32()
		if err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		if n < 0 || n > maxTokenLen {
			return nil, fmt.Errorf("token %d has length %d", i, uint32(n))
		}
		if len(arena) < int(n) {
			arena = make([]byte, max(int(n), 1<<16))
		}
		tok := arena[:n:n]
		arena = arena[n:]
		if err := cr.full(tok); err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		f.Tokens[i] = tok
	}

	// Tensor records, read with ReadAt so that data is skipped, not read.
	specs := h.tensorSpecs()
	want := make(map[string]*tensorSpec, len(specs))
	for i := range specs {
		want[specs[i].name] = &specs[i]
	}
	seen := make(map[string]bool, len(specs))
	off := cr.off
	var hdr [12]byte
	for off < size {
		if err := readAt(r, hdr[:], off, size); err != nil {
			return nil, fmt.Errorf("tensor record at %d: %w", off, err)
		}
		nDims := int32(binary.LittleEndian.Uint32(hdr[0:]))
		nameLen := int32(binary.LittleEndian.Uint32(hdr[4:]))
		ttype := GGMLType(binary.LittleEndian.Uint32(hdr[8:]))
		if nDims < 1 || nDims > 4 {
			return nil, fmt.Errorf("tensor record at %d: n_dims %d", off, nDims)
		}
		if nameLen < 1 || nameLen > 63 {
			return nil, fmt.Errorf("tensor record at %d: name length %d", off, nameLen)
		}
		rest := make([]byte, 4*int(nDims)+int(nameLen))
		if err := readAt(r, rest, off+12, size); err != nil {
			return nil, fmt.Errorf("tensor record at %d: %w", off, err)
		}
		shape := make([]int64, nDims)
		for i := range shape {
			shape[i] = int64(int32(binary.LittleEndian.Uint32(rest[4*i:])))
		}
		name := string(rest[4*nDims:])
		spec, ok := want[name]
		if !ok {
			return nil, fmt.Errorf("unexpected tensor %q at %d", printable(name), off)
		}
		if seen[name] {
			return nil, fmt.Errorf("tensor %q appears twice", name)
		}
		seen[name] = true
		if !shapeEqual(shape, spec.shape) {
			return nil, fmt.Errorf("tensor %s has shape %v, want %v", name, shape, spec.shape)
		}
		if !spec.role.allows(ttype) {
			return nil, fmt.Errorf("tensor %s has type %v, which whisper cannot use there", name, ttype)
		}
		if ttype.quantized() {
			// q5_0/q5_1 blocks have not changed since version 1; q4_0, q4_1
			// and q8_0 changed their scale to f16 in version 2.
			need := qntVersion
			if ttype == TypeQ5_0 || ttype == TypeQ5_1 {
				need = 1
			}
			if h.QuantVersion() < need {
				return nil, fmt.Errorf("tensor %s is %v from quantization version %d, which current ggml reads wrongly (re-quantize with current whisper.cpp)", name, ttype, h.QuantVersion())
			}
		}
		nbytes, err := tensorBytes(ttype, shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", name, err)
		}
		dataOff := off + 12 + int64(len(rest))
		if nbytes > size-dataOff {
			return nil, fmt.Errorf("tensor %s needs %d bytes at %d but the file ends at %d", name, nbytes, dataOff, size)
		}
		f.Tensors = append(f.Tensors, TensorInfo{Name: name, Type: ttype, Shape: shape, Offset: dataOff, Size: nbytes})
		off = dataOff + nbytes
	}
	if len(seen) != len(specs) {
		var missing []string
		for _, s := range specs {
			if !seen[s.name] {
				missing = append(missing, s.name)
			}
		}
		return nil, fmt.Errorf("%d tensors missing, first %s", len(missing), missing[0])
	}
	return f, nil
}

// specialBase is the id of <|endoftext|>: ordinary tokens are below it.
func specialBase(nVocab int) int {
	if nVocab >= 51865 {
		return 50257
	}
	return 50256
}

func readAt(r io.ReaderAt, p []byte, off, size int64) error {
	if int64(len(p)) > size-off {
		return fmt.Errorf("truncated: %d bytes needed, %d left", len(p), size-off)
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func tensorBytes(t GGMLType, shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape[1:] {
		n *= d // shapes were checked against specs, so no overflow
	}
	row, err := t.rowBytes(shape[0])
	if err != nil {
		return 0, err
	}
	return row * n, nil
}

func shapeEqual(got, want []int64) bool {
	// whisper.cpp pads ne with 1s, so trailing 1s are not significant.
	trim := func(s []int64) []int64 {
		for len(s) > 1 && s[len(s)-1] == 1 {
			s = s[:len(s)-1]
		}
		return s
	}
	return slices.Equal(trim(got), trim(want))
}

func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return fmt.Sprintf("%x", []byte(s))
	}
	return s
}

// randomMarker is the last ordinary vocabulary entry of models written by
// whispertest: the legacy format has no metadata fields, so the vocabulary
// carries the fact that the weights are random.
var randomMarker = []byte("<|outpost:random-weights|>")

// RandomWeights reports whether the file was generated with random weights
// (by whispertest / `outpost models testgen --kind whisper`).
func (f *File) RandomWeights() bool {
	return len(f.Tokens) > 0 && bytes.Equal(f.Tokens[len(f.Tokens)-1], randomMarker)
}

// RandomMarker returns the vocabulary entry that marks random weights; the
// model writer in whispertest stores it as the last ordinary token.
func RandomMarker() []byte { return slices.Clone(randomMarker) }
