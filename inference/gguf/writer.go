package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Constructors for metadata values the writer can encode.

// String makes a string value.
func String(s string) Value { return Value{Type: ValString, scalar: s} }

// Uint32 makes a uint32 value.
func Uint32(v uint32) Value { return Value{Type: ValUint32, scalar: uint64(v)} }

// Float32 makes a float32 value.
func Float32(v float32) Value { return Value{Type: ValFloat32, scalar: float64(v)} }

// Bool makes a bool value.
func Bool(v bool) Value { return Value{Type: ValBool, scalar: v} }

// Strings makes an array of strings.
func Strings(v []string) Value {
	return Value{Type: ValArray, ArrayType: ValString, ArrayLen: uint64(len(v)), array: v}
}

// Float32s makes an array of float32.
func Float32s(v []float32) Value {
	return Value{Type: ValArray, ArrayType: ValFloat32, ArrayLen: uint64(len(v)), array: v}
}

// Int32s makes an array of int32.
func Int32s(v []int32) Value {
	return Value{Type: ValArray, ArrayType: ValInt32, ArrayLen: uint64(len(v)), array: v}
}

// Tensor is a tensor to write. Data must write exactly the tensor's data
// size (see TensorType.DataSize) in the tensor's type.
type Tensor struct {
	Name string
	Type TensorType
	Dims []uint64 // innermost (row length) first, as in ggml
	Data func(w io.Writer) error
}

// Write writes a GGUF v3 file: metadata, tensor infos, then each tensor's
// data in the order given, aligned to 32 bytes. It streams: no tensor is
// held in memory by the writer.
func Write(w io.Writer, kv []KV, tensors []Tensor) error {
	const align = 32
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	le := binary.LittleEndian
	var hdr []byte
	hdr = append(hdr, magic...)
	hdr = le.AppendUint32(hdr, 3)
	hdr = le.AppendUint64(hdr, uint64(len(tensors)))
	hdr = le.AppendUint64(hdr, uint64(len(kv)))
	for _, e := range kv {
		if e.Key == "general.alignment" {
			return fmt.Errorf("gguf: the writer fixes general.alignment at %d", align)
		}
		hdr = appendString(hdr, e.Key)
		var err error
		if hdr, err = appendValue(hdr, e.Value); err != nil {
			return fmt.Errorf("gguf: metadata %q: %w", e.Key, err)
		}
	}
	sizes := make([]uint64, len(tensors))
	var off uint64
	for i, t := range tensors {
		if len(t.Dims) == 0 || len(t.Dims) > maxDims || len(t.Name) > maxNameLen {
			return fmt.Errorf("gguf: tensor %q: bad name or dimensions", t.Name)
		}
		n := uint64(1)
		for _, d := range t.Dims {
			n *= d
		}
		size, ok := t.Type.DataSize(n)
		if !ok || t.Dims[0]%t.Type.BlockSize() != 0 {
			return fmt.Errorf("gguf: tensor %q: %v elements do not fit %s blocks", t.Name, t.Dims, t.Type)
		}
		sizes[i] = size
		hdr = appendString(hdr, t.Name)
		hdr = le.AppendUint32(hdr, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			hdr = le.AppendUint64(hdr, d)
		}
		hdr = le.AppendUint32(hdr, uint32(t.Type))
		hdr = le.AppendUint64(hdr, off)
		off += size + pad(size, align)
	}
	hdr = append(hdr, make([]byte, pad(uint64(len(hdr)), align))...)
	if _, err := cw.Write(hdr); err != nil {
		return err
	}
	zeros := make([]byte, align)
	for i, t := range tensors {
		start := cw.n
		if err := t.Data(cw); err != nil {
			return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		if got := cw.n - start; got != sizes[i] {
			return fmt.Errorf("gguf: tensor %q: wrote %d bytes, want %d", t.Name, got, sizes[i])
		}
		if _, err := cw.Write(zeros[:pad(sizes[i], align)]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func pad(n, align uint64) uint64 { return (align - n%align) % align }

type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

func appendValue(b []byte, v Value) ([]byte, error) {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(v.Type))
	switch v.Type {
	case ValString:
		return appendString(b, v.scalar.(string)), nil
	case ValUint32:
		return le.AppendUint32(b, uint32(v.scalar.(uint64))), nil
	case ValFloat32:
		return le.AppendUint32(b, math.Float32bits(float32(v.scalar.(float64)))), nil
	case ValBool:
		if v.scalar.(bool) {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case ValArray:
		b = le.AppendUint32(b, uint32(v.ArrayType))
		b = le.AppendUint64(b, v.ArrayLen)
		switch a := v.array.(type) {
		case []string:
			for _, s := range a {
				b = appendString(b, s)
			}
		case []float32:
			for _, x := range a {
				b = le.AppendUint32(b, math.Float32bits(x))
			}
		case []int32:
			for _, x := range a {
				b = le.AppendUint32(b, uint32(x))
			}
		default:
			return nil, fmt.Errorf("array value was not made by a constructor")
		}
		return b, nil
	}
	return nil, fmt.Errorf("value type %d is not writable", v.Type)
}
