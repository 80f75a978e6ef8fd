package audio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	mp3 "github.com/hajimehoshi/go-mp3"
)

// mp3DecoderDelay is the MPEG-1/2 Layer III synthesis filterbank's delay in
// samples, which LAME's gapless fields assume the decoder adds.
const mp3DecoderDelay = 529

// maxMP3Resync bounds the junk skipped between frames before the stream is
// declared corrupt.
const maxMP3Resync = 64 << 10

// mpegHeader is a parsed MPEG audio Layer III frame header.
type mpegHeader struct {
	version  int // 1 or 2 (MPEG-2 LSF); MPEG 2.5 is rejected
	rate     int
	channels int
	crc      bool
	size     int // frame bytes including the header
	samples  int // per channel per frame
}

var (
	mp3Bitrates = [2][15]int{
		{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}
	mp3Rates = [2][3]int{{44100, 48000, 32000}, {22050, 24000, 16000}}
)

// parseMPEGHeader decodes a 4-byte header; ok is false when the bytes are
// not a usable Layer III header.
func parseMPEGHeader(b []byte) (h mpegHeader, err error) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return h, errNoSync
	}
	switch b[1] >> 3 & 3 {
	case 3:
		h.version = 1
	case 2:
		h.version = 2
	case 0:
		return h, errorf(ErrUnsupported, "mp3: MPEG 2.5 (8, 11.025 and 12 kHz) is not supported")
	default:
		return h, errNoSync
	}
	if b[1]>>1&3 != 1 {
		return h, errNoSync // not Layer III
	}
	h.crc = b[1]&1 == 0
	bi, ri := int(b[2]>>4), int(b[2]>>2&3)
	if bi == 15 || ri == 3 {
		return h, errNoSync
	}
	if bi == 0 {
		return h, errorf(ErrUnsupported, "mp3: free-format bitrate is not supported")
	}
	v := h.version - 1
	h.rate = mp3Rates[v][ri]
	kbps := mp3Bitrates[v][bi]
	pad := int(b[2] >> 1 & 1)
	if h.version == 1 {
		h.size = 144*kbps*1000/h.rate + pad
		h.samples = 1152
	} else {
		h.size = 72*kbps*1000/h.rate + pad
		h.samples = 576
	}
	h.channels = 2
	if b[3]>>6 == 3 {
		h.channels = 1
	}
	return h, nil
}

var errNoSync = errors.New("no MPEG sync")

// mp3Frames hands go-mp3 whole, header-checked frames, so that a cut-off
// last frame is reported as truncation (go-mp3 treats it as a normal end),
// junk between frames is skipped only when a frame of the same stream
// follows it, and trailing tags end the stream.
type mp3Frames struct {
	br     *bufio.Reader
	first  mpegHeader
	cur    []byte
	offset int64 // input bytes consumed
	count  int64 // frames delivered
	frame  []byte
}

func (f *mp3Frames) Read(p []byte) (int, error) {
	for len(f.cur) == 0 {
		if err := f.nextFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

func (f *mp3Frames) nextFrame() error {
	skipped := 0
	for {
		b, _ := f.br.Peek(4)
		if len(b) < 4 {
			return io.EOF // fewer than 4 trailing bytes cannot be a frame
		}
		switch {
		case bytes.HasPrefix(b, []byte("TAG")), bytes.HasPrefix(b, []byte("APET")), bytes.HasPrefix(b, []byte("LYRI")):
			return io.EOF // ID3v1, APE or Lyrics3 tags close the file
		case bytes.HasPrefix(b, []byte("ID3")):
			if err := skipID3v2(f.br); err != nil {
				return err
			}
			continue
		}
		h, err := parseMPEGHeader(b)
		if err == nil && f.count > 0 && (h.version != f.first.version || h.rate != f.first.rate) {
			err = errNoSync // a false sync inside junk
		}
		if err != nil {
			if f.count == 0 {
				if err == errNoSync {
					return errorf(ErrCorrupt, "mp3: no frame header at byte %d", f.offset)
				}
				return err
			}
			if skipped >= maxMP3Resync {
				return errorf(ErrCorrupt, "mp3: no frame within %d bytes after byte %d", maxMP3Resync, f.offset-int64(skipped))
			}
			f.br.Discard(1)
			f.offset++
			skipped++
			continue
		}
		data, _ := f.br.Peek(h.size)
		if len(data) < h.size {
			return errorf(ErrTruncated, "mp3: truncated frame %d at byte %d: have %d of %d bytes", f.count, f.offset, len(data), h.size)
		}
		f.frame = append(f.frame[:0], data...)
		f.br.Discard(h.size)
		f.offset += int64(h.size)
		if f.count == 0 {
			f.first = h
		}
		f.count++
		f.cur = f.frame
		return nil
	}
}

// gapless reads LAME's Xing/Info tag from the first frame: the tag frame
// itself decodes as silence, and the encoder's delay and padding tell how
// many samples to drop at each end.
func gapless(frame []byte, h mpegHeader) (skip, total int64, ok bool) {
	side := 32
	switch {
	case h.version == 1 && h.channels == 1:
		side = 17
	case h.version == 2 && h.channels == 1:
		side = 9
	case h.version == 2:
		side = 17
	}
	off := 4 + side
	if h.crc {
		off += 2
	}
	if len(frame) < off+8 {
		return 0, -1, false
	}
	if tag := string(frame[off : off+4]); tag != "Xing" && tag != "Info" {
		return 0, -1, false
	}
	flags := binary.BigEndian.Uint32(frame[off+4:])
	p := off + 8
	frames := int64(-1)
	if flags&1 != 0 && len(frame) >= p+4 {
		frames = int64(binary.BigEndian.Uint32(frame[p:]))
		p += 4
	}
	for _, bit := range []struct {
		flag uint32
		size int
	}{{2, 4}, {4, 100}, {8, 4}} {
		if flags&bit.flag != 0 {
			p += bit.size
		}
	}
	skip = int64(h.samples) // the tag frame
	total = -1
	if len(frame) >= p+24 {
		enc := string(frame[p : p+4])
		if enc == "LAME" || enc == "Lavf" || enc == "Lavc" {
			delay := int64(frame[p+21])<<4 | int64(frame[p+22])>>4
			padding := int64(frame[p+22]&0x0f)<<8 | int64(frame[p+23])
			skip += delay + mp3DecoderDelay
			if frames >= 0 {
				total = frames*int64(h.samples) - delay - padding
			}
		}
	}
	return skip, max(total, -1), true
}

type mp3Source struct {
	frames   *mp3Frames
	dec      *mp3.Decoder
	channels int
	skip     int64 // frames still to drop at the start
	total    int64 // frames to emit in all; -1 unknown
	emitted  int64
	pcm      []byte
	out      []float32
}

func openMP3(br *bufio.Reader) (source, Info, error) {
	f := &mp3Frames{br: br}
	info := Info{Format: "mp3"}
	if err := f.nextFrame(); err != nil {
		if err == io.EOF {
			return nil, info, errorf(ErrTruncated, "mp3: input ends before the first frame")
		}
		return nil, info, err
	}
	h := f.first
	info.SampleRate, info.Channels = h.rate, h.channels
	s := &mp3Source{frames: f, channels: h.channels, total: -1}
	if skip, total, ok := gapless(f.frame, h); ok {
		s.skip, s.total = skip, total
	}
	var err error
	s.dec, err = s.newDecoder()
	if err != nil {
		return nil, info, err
	}
	if s.dec.SampleRate() != h.rate {
		return nil, info, errorf(ErrCorrupt, "mp3: decoder reports %d Hz, frame header %d Hz", s.dec.SampleRate(), h.rate)
	}
	s.pcm = make([]byte, 4*1152*8)
	s.out = make([]float32, 0, 1152*8*2)
	return s, info, nil
}

// newDecoder and read run go-mp3 behind recover: it indexes its tables with
// values taken from the stream.
func (s *mp3Source) newDecoder() (d *mp3.Decoder, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, errorf(ErrCorrupt, "mp3: decoder failed on frame %d: %v", s.frames.count, r)
		}
	}()
	// Hiding Seek keeps go-mp3 from scanning the whole input up front.
	d, err = mp3.NewDecoder(struct{ io.Reader }{s.frames})
	if err == io.EOF {
		// go-mp3 reports a first frame it cannot use (one whose side
		// information outruns the frame, say) as the end of the stream.
		return nil, errorf(ErrCorrupt, "mp3: first frame is not decodable")
	}
	if err != nil {
		return nil, s.classify(err)
	}
	return d, nil
}

func (s *mp3Source) read(p []byte) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, errorf(ErrCorrupt, "mp3: decoder failed on frame %d: %v", s.frames.count, r)
		}
	}()
	n, err = io.ReadAtLeast(s.dec, p, 4)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = s.classify(err)
	}
	return n, err
}

func (s *mp3Source) classify(err error) error {
	var de *decodeError
	if errors.As(err, &de) || err == io.EOF {
		return err // ours, from mp3Frames
	}
	return wrapf(ErrCorrupt, err, "mp3: frame %d", s.frames.count)
}

func (s *mp3Source) next() ([]float32, error) {
	for {
		if s.total >= 0 && s.emitted >= s.total {
			return nil, io.EOF
		}
		n, err := s.read(s.pcm)
		if err == io.EOF && n == 0 {
			if s.total >= 0 && s.emitted < s.total {
				return nil, errorf(ErrTruncated, "mp3: have %d of %d samples after %d frames", s.emitted, s.total, s.frames.count)
			}
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		frames := int64(n / 4) // go-mp3 always writes 16-bit stereo
		pcm := s.pcm[:frames*4]
		if d := min(s.skip, frames); d > 0 {
			pcm = pcm[d*4:]
			s.skip -= d
			frames -= d
		}
		if s.total >= 0 {
			frames = min(frames, s.total-s.emitted)
			pcm = pcm[:frames*4]
		}
		if frames == 0 {
			continue
		}
		s.emitted += frames
		out := s.out[:0]
		for i := int64(0); i < frames; i++ {
			l := float32(int16(binary.LittleEndian.Uint16(pcm[4*i:]))) / 32768
			if s.channels == 1 {
				out = append(out, l) // go-mp3 duplicates mono into both channels
				continue
			}
			r := float32(int16(binary.LittleEndian.Uint16(pcm[4*i+2:]))) / 32768
			out = append(out, l, r)
		}
		s.out = out
		return out, nil
	}
}
