package audio

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
)

type flacSource struct {
	br      *bufio.Reader
	stream  *flac.Stream
	info    Info
	total   int64 // frames declared by STREAMINFO; 0 unknown
	decoded int64
	out     []float32
}

func openFLAC(br *bufio.Reader, limit time.Duration) (source, Info, error) {
	info := Info{Format: "flac"}
	// flac.New reuses br (bufio.NewReader returns a large enough
	// *bufio.Reader unchanged), so br still sees where frames end.
	stream, err := guardFLAC(func() (*flac.Stream, error) { return flac.New(br) })
	if err != nil {
		return nil, info, classifyFLAC(err, "stream header")
	}
	si := stream.Info
	info.SampleRate = int(si.SampleRate)
	info.Channels = int(si.NChannels)
	info.BitsPerSample = int(si.BitsPerSample)
	s := &flacSource{br: br, stream: stream, info: info, total: int64(si.NSamples)}
	if info.SampleRate >= minRate && s.total > framesIn(limit, info.SampleRate) {
		return nil, info, tooLong(s.total, info.SampleRate, limit)
	}
	return s, info, nil
}

// guardFLAC runs a mewkiz/flac call behind recover: it indexes with values
// taken from the stream.
func guardFLAC[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errorf(ErrCorrupt, "flac: decoder failed: %v", r)
		}
	}()
	return f()
}

func classifyFLAC(err error, where string) error {
	var de *decodeError
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return wrapf(ErrTruncated, err, "flac: truncated %s", where)
	}
	return wrapf(ErrCorrupt, err, "flac: %s", where)
}

func (s *flacSource) next() ([]float32, error) {
	if s.total > 0 && s.decoded >= s.total {
		// Trailing bytes after the declared samples (an ID3v1 tag, say)
		// are not audio.
		return nil, io.EOF
	}
	if s.total == 0 {
		if b, _ := s.br.Peek(3); len(b) == 3 && string(b) == "TAG" {
			return nil, io.EOF
		}
	}
	f, err := guardFLAC(s.stream.ParseNext)
	if err == io.EOF {
		if s.total > 0 && s.decoded < s.total {
			return nil, errorf(ErrTruncated, "flac: have %d of %d samples", s.decoded, s.total)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, classifyFLAC(err, "frame after sample "+strconv.FormatInt(s.decoded, 10))
	}
	return s.convert(f)
}

func (s *flacSource) convert(f *frame.Frame) ([]float32, error) {
	ch := s.info.Channels
	if len(f.Subframes) != ch {
		return nil, errorf(ErrCorrupt, "flac: frame after sample %d has %d channels, stream %d", s.decoded, len(f.Subframes), ch)
	}
	n := len(f.Subframes[0].Samples)
	for _, sf := range f.Subframes {
		if len(sf.Samples) != n {
			return nil, errorf(ErrCorrupt, "flac: frame after sample %d has channels of unequal length", s.decoded)
		}
	}
	bps := int(f.BitsPerSample)
	if bps < 1 || bps > 32 {
		return nil, errorf(ErrCorrupt, "flac: frame after sample %d has %d bits per sample", s.decoded, bps)
	}
	if s.total > 0 {
		n = int(min(int64(n), s.total-s.decoded))
	}
	scale := float32(1 / float64(uint64(1)<<(bps-1)))
	out := s.out[:0]
	for i := 0; i < n; i++ {
		for _, sf := range f.Subframes {
			out = append(out, float32(sf.Samples[i])*scale)
		}
	}
	s.out = out
	s.decoded += int64(n)
	return out, nil
}
