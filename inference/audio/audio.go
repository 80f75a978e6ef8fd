package audio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// TargetRate is the sample rate Decode produces: Whisper's input rate.
const TargetRate = 16000

// MaxDuration is the longest audio Decode and DecodeRaw accept.
const MaxDuration = 4 * time.Hour

// maxRawSamples caps DecodeRaw's output (1 GiB of float32): 4 h of 16 kHz
// mono, 46 min of 48 kHz stereo. A tiny FLAC file of constant subframes
// can otherwise declare hours of 8-channel 655 kHz audio.
const maxRawSamples = 1 << 28

// Sample rates outside this range are rejected. Below 1 kHz nothing is
// speech, and each input byte could expand to kilobytes of output.
const (
	minRate = 1000
	maxRate = 768000
)

// Sentinel errors. Every decoding error wraps exactly one of them; errors
// from reading the input are returned wrapped as they are.
var (
	// ErrUnsupported: the input is not audio in a supported format, or uses
	// an unsupported feature of one (MPEG 2.5, ADPCM, Opus, Vorbis floor 0).
	ErrUnsupported = errors.New("audio: unsupported format")
	// ErrTruncated: the input ends before the audio its headers announce.
	ErrTruncated = errors.New("audio: truncated input")
	// ErrCorrupt: the input violates its format.
	ErrCorrupt = errors.New("audio: corrupt input")
	// ErrTooLong: the audio is longer than the limit (MaxDuration by default).
	ErrTooLong = errors.New("audio: too long")
)

// Info describes the source stream. Frames counts samples per channel as
// decoded; Duration is Frames at SampleRate.
type Info struct {
	Format        string // "wav", "mp3", "flac" or "ogg"
	SampleRate    int
	Channels      int
	BitsPerSample int // of the source encoding; 0 for lossy formats
	Frames        int64
	Duration      time.Duration
}

// Decode reads a whole WAV/MP3/FLAC/Ogg Vorbis stream and returns it as
// 16 kHz mono float32 in [-1, 1].
func Decode(r io.Reader) ([]float32, Info, error) {
	return decode(r, options{limit: MaxDuration})
}

// DecodeLimit is Decode with a lower duration limit; longer audio fails
// with ErrTooLong before it is decoded when the header declares its length,
// and as soon as the limit is passed otherwise.
func DecodeLimit(r io.Reader, limit time.Duration) ([]float32, Info, error) {
	return decode(r, options{limit: min(limit, MaxDuration)})
}

// DecodeFile decodes the file at path like Decode.
func DecodeFile(path string) ([]float32, Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	return Decode(f)
}

// DecodeRaw returns interleaved float32 at the source rate (no resampling)
// for callers that want it.
func DecodeRaw(r io.Reader) (samples []float32, info Info, err error) {
	return decode(r, options{limit: MaxDuration, raw: true, maxSamples: maxRawSamples})
}

// source is one opened decoder: it yields interleaved float32 chunks at the
// source rate, valid until the next call, and io.EOF after the last.
type source interface {
	next() ([]float32, error)
}

// options select decode's variant; fuzz targets also force the format.
type options struct {
	limit      time.Duration
	raw        bool   // interleaved at the source rate
	maxSamples int64  // raw output cap
	format     string // skip detection when set
}

func decode(r io.Reader, o options) (out []float32, info Info, err error) {
	limit, raw := o.limit, o.raw
	in := &inputReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	defer func() {
		// A failure of the caller's reader explains any decoding error that
		// followed it better than the decoder's view of the damage.
		if err != nil && in.err != nil {
			out, err = nil, fmt.Errorf("audio: reading input: %w", in.err)
		}
	}()
	format := o.format
	if format == "" {
		if format, err = sniff(br); err != nil {
			return nil, info, err
		}
	}
	src, info, err := open(format, br, limit)
	if err != nil {
		return nil, info, err
	}
	maxFrames := framesIn(limit, info.SampleRate)
	ch := info.Channels
	var rs *resampler
	if !raw && info.SampleRate != TargetRate {
		rs = newResampler(info.SampleRate, TargetRate)
	}
	var mono []float32
	for {
		chunk, err := src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, info, err
		}
		info.Frames += int64(len(chunk) / ch)
		if info.Frames > maxFrames {
			return nil, info, tooLong(info.Frames, info.SampleRate, limit)
		}
		if raw {
			if int64(len(out))+int64(len(chunk)) > o.maxSamples {
				return nil, info, errorf(ErrTooLong, "raw output exceeds %d samples (%d channels at %d Hz); use Decode", o.maxSamples, ch, info.SampleRate)
			}
			out = append(out, chunk...)
			continue
		}
		mono = toMonoInto(mono[:0], chunk, ch)
		if rs != nil {
			out = rs.process(out, mono)
		} else {
			out = append(out, mono...)
		}
	}
	if rs != nil {
		out = rs.flush(out)
	}
	clip(out)
	info.Duration = time.Duration(float64(info.Frames) / float64(info.SampleRate) * float64(time.Second))
	return out, info, nil
}

// open starts the decoder for format and fills in what the header tells.
func open(format string, br *bufio.Reader, limit time.Duration) (source, Info, error) {
	var src source
	var info Info
	var err error
	switch format {
	case "wav":
		src, info, err = openWAV(br, limit)
	case "mp3":
		src, info, err = openMP3(br)
	case "flac":
		src, info, err = openFLAC(br, limit)
	case "ogg":
		src, info, err = openOgg(br)
	default:
		return nil, info, errorf(ErrUnsupported, "unknown format %q", format)
	}
	if err != nil {
		return nil, info, err
	}
	if info.Channels < 1 {
		return nil, info, errorf(ErrCorrupt, "%s: %d channels", format, info.Channels)
	}
	if info.SampleRate < minRate || info.SampleRate > maxRate {
		return nil, info, errorf(ErrUnsupported, "%s: sample rate %d Hz outside %d..%d Hz", format, info.SampleRate, minRate, maxRate)
	}
	return src, info, nil
}

func framesIn(d time.Duration, rate int) int64 {
	return int64(d/time.Millisecond) * int64(rate) / 1000
}

func tooLong(frames int64, rate int, limit time.Duration) error {
	d := time.Duration(float64(frames) / float64(rate) * float64(time.Second)).Round(time.Second)
	return errorf(ErrTooLong, "%v of audio exceeds the %v limit", d, limit)
}

// ToMono averages interleaved channels into one. One channel is returned
// as a copy.
func ToMono(interleaved []float32, channels int) []float32 {
	if channels < 1 {
		return nil
	}
	return toMonoInto(make([]float32, 0, len(interleaved)/channels), interleaved, channels)
}

// toMonoInto appends the downmix of interleaved to dst; a trailing partial
// frame is dropped.
func toMonoInto(dst, interleaved []float32, channels int) []float32 {
	frames := len(interleaved) / channels
	switch channels {
	case 1:
		return append(dst, interleaved...)
	case 2:
		for i := 0; i < frames; i++ {
			dst = append(dst, (interleaved[2*i]+interleaved[2*i+1])*0.5)
		}
		return dst
	}
	scale := 1 / float32(channels)
	for i := 0; i < frames; i++ {
		var s float32
		for _, v := range interleaved[i*channels : (i+1)*channels] {
			s += v
		}
		dst = append(dst, s*scale)
	}
	return dst
}

// clip keeps the [-1, 1] promise: float WAVs may exceed full scale, and
// lossy codecs and the resampler overshoot slightly on clipped input.
func clip(s []float32) {
	for i, v := range s {
		switch {
		case v > 1:
			s[i] = 1
		case v < -1:
			s[i] = -1
		case v != v: // NaN
			s[i] = 0
		}
	}
}

// decodeError carries a sentinel for errors.Is with a message of its own,
// and optionally the underlying library error.
type decodeError struct {
	kind error
	msg  string
	err  error
}

func (e *decodeError) Error() string        { return e.msg }
func (e *decodeError) Is(target error) bool { return target == e.kind }
func (e *decodeError) Unwrap() error        { return e.err }

// errorf builds an error of the given kind whose message is "audio: " and
// the formatted text.
func errorf(kind error, format string, args ...any) error {
	return &decodeError{kind: kind, msg: "audio: " + fmt.Sprintf(format, args...)}
}

// wrapf is errorf that keeps cause reachable with errors.As/Unwrap and
// appends its text.
func wrapf(kind error, cause error, format string, args ...any) error {
	return &decodeError{kind: kind, msg: "audio: " + fmt.Sprintf(format, args...) + ": " + cause.Error(), err: cause}
}

// inputReader remembers the caller's first read error other than io.EOF,
// so that it is reported instead of the decoder's complaint about it.
type inputReader struct {
	r   io.Reader
	err error
}

func (in *inputReader) Read(p []byte) (int, error) {
	n, err := in.r.Read(p)
	if err != nil && err != io.EOF && in.err == nil {
		in.err = err
	}
	return n, err
}
