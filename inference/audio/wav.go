package audio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"time"
)

// WAVE format tags.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xfffe
)

// extensibleTail is the part of a WAVE_FORMAT_EXTENSIBLE SubFormat GUID
// after its first two bytes, which hold the format tag.
var extensibleTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

var wavTagNames = map[uint16]string{
	0x0002: "MS ADPCM", 0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0050: "MPEG",
	0x0055: "MP3", 0x0092: "AC-3", 0x00ff: "AAC", 0x1610: "HE-AAC",
}

// wavFormat is the decoded fmt chunk.
type wavFormat struct {
	tag        uint16 // after resolving WAVE_FORMAT_EXTENSIBLE
	channels   int
	rate       int
	blockAlign int
	container  int // bytes per sample
	bits       int // valid bits
}

type wavSource struct {
	r         io.Reader
	order     binary.ByteOrder
	f         wavFormat
	size      int64 // declared data bytes; -1: read to the end of input
	done      int64 // data bytes read
	buf       []byte
	out       []float32
	convert   func(dst []float32, src []byte)
	remainder int // bytes of a trailing partial frame, dropped
}

// openWAV parses chunks up to the data chunk (RIFF/RIFX/RF64/BW64).
func openWAV(br *bufio.Reader, limit time.Duration) (source, Info, error) {
	var h [12]byte
	if n, err := io.ReadFull(br, h[:]); err != nil {
		return nil, Info{}, errorf(ErrTruncated, "wav: header: have %d of 12 bytes", n)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if string(h[:4]) == "RIFX" {
		order = binary.BigEndian
	}
	rf64 := string(h[:4]) == "RF64" || string(h[:4]) == "BW64"
	var f *wavFormat
	ds64Data := int64(-1)
	offset := int64(12)
	for {
		var ch [8]byte
		if n, err := io.ReadFull(br, ch[:]); err != nil {
			if n == 0 && f == nil {
				return nil, Info{}, errorf(ErrTruncated, "wav: input ends at byte %d before the fmt chunk", offset)
			}
			if n == 0 {
				return nil, Info{}, errorf(ErrTruncated, "wav: input ends at byte %d before the data chunk", offset)
			}
			return nil, Info{}, errorf(ErrTruncated, "wav: chunk header at byte %d: have %d of 8 bytes", offset, n)
		}
		id := string(ch[:4])
		size := int64(order.Uint32(ch[4:]))
		offset += 8
		switch id {
		case "ds64":
			body, err := readChunk(br, id, offset, size+size&1, 28)
			if err != nil {
				return nil, Info{}, err
			}
			if len(body) >= 16 {
				ds64Data = int64(binary.LittleEndian.Uint64(body[8:16]))
			}
		case "fmt ":
			body, err := readChunk(br, id, offset, size+size&1, 40)
			body = body[:min(int64(len(body)), size)]
			if err != nil {
				return nil, Info{}, err
			}
			if f, err = parseWAVFormat(body, order); err != nil {
				return nil, Info{}, err
			}
		case "data":
			if f == nil {
				return nil, Info{}, errorf(ErrCorrupt, "wav: data chunk at byte %d precedes the fmt chunk", offset-8)
			}
			switch {
			case rf64 && size == 0xffffffff:
				if ds64Data < 0 {
					return nil, Info{}, errorf(ErrCorrupt, "wav: RF64 data chunk without a ds64 size")
				}
				size = ds64Data
			case size == 0xffffffff:
				size = -1 // a streaming writer never came back to fill it in
			}
			return newWAVSource(br, order, *f, size, limit)
		default:
			if _, err := readChunk(br, id, offset, size+size&1, 0); err != nil {
				return nil, Info{}, err
			}
		}
		offset += size + size&1
	}
}

// readChunk consumes a chunk body of size bytes and returns at most keep
// of its first bytes; the rest is discarded without being buffered.
func readChunk(br *bufio.Reader, id string, offset, size int64, keep int) ([]byte, error) {
	k := int(min(size, int64(keep)))
	body := make([]byte, k)
	n, err := io.ReadFull(br, body)
	if err == nil {
		var m int64
		m, err = io.CopyN(io.Discard, br, size-int64(k))
		n += int(m)
	}
	if err != nil {
		return nil, errorf(ErrTruncated, "wav: truncated %q chunk at byte %d: have %d of %d bytes", id, offset, n, size)
	}
	return body, nil
}

func parseWAVFormat(b []byte, order binary.ByteOrder) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, errorf(ErrCorrupt, "wav: fmt chunk of %d bytes, want at least 16", len(b))
	}
	f := &wavFormat{
		tag:        order.Uint16(b[0:2]),
		channels:   int(order.Uint16(b[2:4])),
		rate:       int(order.Uint32(b[4:8])),
		blockAlign: int(order.Uint16(b[12:14])),
		bits:       int(order.Uint16(b[14:16])),
	}
	containerBits := f.bits
	if f.tag == wavExtensible {
		if len(b) < 40 {
			return nil, errorf(ErrCorrupt, "wav: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes, want 40", len(b))
		}
		if valid := int(order.Uint16(b[18:20])); valid != 0 {
			f.bits = valid
		}
		if !bytes.Equal(b[26:40], extensibleTail) {
			return nil, errorf(ErrUnsupported, "wav: extensible sub-format GUID % x is not PCM or float", b[24:40])
		}
		f.tag = order.Uint16(b[24:26])
	}
	if f.channels == 0 {
		return nil, errorf(ErrCorrupt, "wav: zero channels")
	}
	if f.blockAlign == 0 || f.blockAlign%f.channels != 0 {
		return nil, errorf(ErrCorrupt, "wav: block align %d does not fit %d channels", f.blockAlign, f.channels)
	}
	f.container = f.blockAlign / f.channels
	switch f.tag {
	case wavPCM:
		if f.container > 4 || f.bits == 0 || f.bits > 8*f.container || containerBits > 8*f.container || (containerBits+7)/8 != f.container {
			return nil, errorf(ErrUnsupported, "wav: PCM with %d bits in %d-byte samples", f.bits, f.container)
		}
	case wavFloat:
		if f.container != 4 && f.container != 8 || containerBits != 8*f.container {
			return nil, errorf(ErrUnsupported, "wav: float with %d bits in %d-byte samples", containerBits, f.container)
		}
	case wavALaw, wavMuLaw:
		if f.container != 1 {
			return nil, errorf(ErrUnsupported, "wav: G.711 with %d-byte samples", f.container)
		}
	default:
		name := wavTagNames[f.tag]
		if name == "" {
			name = "unknown"
		}
		return nil, errorf(ErrUnsupported, "wav: format tag %#04x (%s) is not supported (PCM, float, A-law and µ-law are)", f.tag, name)
	}
	return f, nil
}

func newWAVSource(r io.Reader, order binary.ByteOrder, f wavFormat, size int64, limit time.Duration) (source, Info, error) {
	info := Info{Format: "wav", SampleRate: f.rate, Channels: f.channels, BitsPerSample: f.bits}
	if f.rate < minRate || f.rate > maxRate {
		return nil, info, errorf(ErrUnsupported, "wav: sample rate %d Hz outside %d..%d Hz", f.rate, minRate, maxRate)
	}
	if size >= 0 {
		if frames := size / int64(f.blockAlign); frames > framesIn(limit, f.rate) {
			return nil, info, tooLong(frames, f.rate, limit)
		}
	}
	s := &wavSource{r: r, order: order, f: f, size: size}
	s.convert = wavConverter(f, order)
	// About 256 KiB per read, at least one frame.
	frames := max(1, (256<<10)/f.blockAlign)
	s.buf = make([]byte, frames*f.blockAlign)
	s.out = make([]float32, frames*f.channels)
	return s, info, nil
}

func (s *wavSource) next() ([]float32, error) {
	want := int64(len(s.buf))
	if s.size >= 0 {
		want = min(want, s.size-s.done)
	}
	if want <= 0 {
		return nil, io.EOF
	}
	n, err := io.ReadFull(s.r, s.buf[:want])
	s.done += int64(n)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if err != nil && s.size >= 0 {
		return nil, errorf(ErrTruncated, "wav: truncated data chunk: have %d of %d bytes", s.done, s.size)
	}
	if err != nil {
		s.size = s.done // read to the end: no more after this chunk
	}
	frames := n / s.f.blockAlign
	if frames == 0 {
		return nil, io.EOF
	}
	out := s.out[:frames*s.f.channels]
	s.convert(out, s.buf[:frames*s.f.blockAlign])
	if s.size >= 0 && s.size-s.done < int64(s.f.blockAlign) {
		s.size = s.done // a trailing partial frame is dropped
	}
	return out, nil
}

// wavConverter picks the sample conversion. Integer PCM is scaled by its
// container's full scale: valid bits are left-justified, so a 20-bit sample
// in a 24-bit container keeps its level.
func wavConverter(f wavFormat, order binary.ByteOrder) func([]float32, []byte) {
	big := order == binary.BigEndian
	switch f.tag {
	case wavALaw:
		return func(dst []float32, src []byte) {
			for i, b := range src {
				dst[i] = aLaw(b)
			}
		}
	case wavMuLaw:
		return func(dst []float32, src []byte) {
			for i, b := range src {
				dst[i] = muLaw(b)
			}
		}
	case wavFloat:
		if f.container == 8 {
			return func(dst []float32, src []byte) {
				for i := range dst {
					dst[i] = float32(math.Float64frombits(order.Uint64(src[8*i:])))
				}
			}
		}
		return func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(order.Uint32(src[4*i:]))
			}
		}
	}
	switch f.container {
	case 1:
		return func(dst []float32, src []byte) {
			for i, b := range src {
				dst[i] = float32(int(b)-128) / 128
			}
		}
	case 2:
		if big {
			return func(dst []float32, src []byte) {
				for i := range dst {
					dst[i] = float32(int16(uint16(src[2*i])<<8|uint16(src[2*i+1]))) / 32768
				}
			}
		}
		return func(dst []float32, src []byte) {
			src = src[:2*len(dst)]
			for i := range dst {
				dst[i] = float32(int16(uint16(src[2*i])|uint16(src[2*i+1])<<8)) / 32768
			}
		}
	case 3:
		return func(dst []float32, src []byte) {
			for i := range dst {
				b := src[3*i : 3*i+3]
				var v int32
				if big {
					v = int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
				} else {
					v = int32(uint32(b[2])<<24|uint32(b[1])<<16|uint32(b[0])<<8) >> 8
				}
				dst[i] = float32(v) / (1 << 23)
			}
		}
	default: // 4
		return func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = float32(float64(int32(order.Uint32(src[4*i:]))) / (1 << 31))
			}
		}
	}
}

// muLaw expands a G.711 µ-law byte.
func muLaw(b byte) float32 {
	u := ^b
	exp := (u >> 4) & 7
	mag := (int(u&0x0f)<<3 + 0x84) << exp
	mag -= 0x84
	if u&0x80 != 0 {
		mag = -mag
	}
	return float32(mag) / 32768
}

// aLaw expands a G.711 A-law byte; its sign bit set means positive.
func aLaw(b byte) float32 {
	a := b ^ 0x55
	exp := (a >> 4) & 7
	mag := int(a&0x0f)<<4 + 8
	if exp > 0 {
		mag = (int(a&0x0f)<<4 + 0x108) << (exp - 1)
	}
	if a&0x80 == 0 {
		mag = -mag
	}
	return float32(mag) / 32768
}
