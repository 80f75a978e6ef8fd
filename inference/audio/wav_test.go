package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestWAVVariants(t *testing.T) {
	le16 := func(vs ...int16) []byte {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		}
		return b
	}
	be16 := func(vs ...int16) []byte {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			binary.BigEndian.PutUint16(b[2*i:], uint16(v))
		}
		return b
	}
	s24 := func(big bool, vs ...int32) []byte {
		var b []byte
		for _, v := range vs {
			if big {
				b = append(b, byte(v>>16), byte(v>>8), byte(v))
			} else {
				b = append(b, byte(v), byte(v>>8), byte(v>>16))
			}
		}
		return b
	}
	le32 := func(vs ...uint32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		return b
	}
	f32 := func(vs ...float32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	f64 := func(vs ...float64) []byte {
		b := make([]byte, 8*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	oddList := []byte("LIST\x03\x00\x00\x00abc\x00")
	tests := []struct {
		name  string
		spec  wavSpec
		bits  int
		want  []float32
		after []byte // appended after the data chunk
	}{
		{"u8", wavSpec{tag: wavPCM, channels: 1, rate: 8000, container: 1, data: []byte{0, 64, 128, 192, 255}},
			8, []float32{-1, -0.5, 0, 0.5, 127.0 / 128}, nil},
		{"s16", wavSpec{tag: wavPCM, channels: 1, rate: 16000, container: 2, data: le16(-32768, -1, 0, 1, 32767)},
			16, []float32{-1, -1.0 / 32768, 0, 1.0 / 32768, 32767.0 / 32768}, nil},
		{"s16 stereo odd LIST chunk", wavSpec{tag: wavPCM, channels: 2, rate: 44100, container: 2, data: le16(100, -100, 200, -200), extra: oddList},
			16, []float32{100.0 / 32768, -100.0 / 32768, 200.0 / 32768, -200.0 / 32768}, nil},
		{"s16 trailing chunk ignored", wavSpec{tag: wavPCM, channels: 1, rate: 16000, container: 2, data: le16(5, 6)},
			16, []float32{5.0 / 32768, 6.0 / 32768}, []byte("junk\xff\xff\xff\xff")},
		{"s16 partial trailing frame", wavSpec{tag: wavPCM, channels: 2, rate: 16000, container: 2, data: append(le16(1, 2), 9)},
			16, []float32{1.0 / 32768, 2.0 / 32768}, nil},
		{"s16 streaming size", wavSpec{tag: wavPCM, channels: 1, rate: 16000, container: 2, data: le16(7, 8, 9), dataSize: 0xffffffff},
			16, []float32{7.0 / 32768, 8.0 / 32768, 9.0 / 32768}, nil},
		{"s24", wavSpec{tag: wavPCM, channels: 1, rate: 48000, container: 3, data: s24(false, -8388608, -1, 0, 8388607)},
			24, []float32{-1, -1.0 / 8388608, 0, 8388607.0 / 8388608}, nil},
		{"s32", wavSpec{tag: wavPCM, channels: 1, rate: 48000, container: 4, data: le32(0x80000000, 0, 0x40000000)},
			32, []float32{-1, 0, 0.5}, nil},
		{"float32 clipped and NaN", wavSpec{tag: wavFloat, channels: 1, rate: 48000, container: 4, data: f32(0.25, -0.75, 1.5, float32(math.NaN()))},
			32, []float32{0.25, -0.75, 1, 0}, nil},
		{"float64", wavSpec{tag: wavFloat, channels: 1, rate: 96000, container: 8, data: f64(0.125, -1)},
			64, []float32{0.125, -1}, nil},
		{"extensible 20 in 24", wavSpec{tag: wavPCM, extensible: true, validBits: 20, channels: 1, rate: 48000, container: 3, data: s24(false, 16, -16)},
			20, []float32{16.0 / 8388608, -16.0 / 8388608}, nil},
		{"extensible float 3ch", wavSpec{tag: wavFloat, extensible: true, channels: 3, rate: 32000, container: 4, data: f32(0.1, 0.2, 0.3)},
			32, []float32{0.1, 0.2, 0.3}, nil},
		{"RIFX s16", wavSpec{riff: "RIFX", tag: wavPCM, channels: 1, rate: 16000, container: 2, data: be16(-2, 300)},
			16, []float32{-2.0 / 32768, 300.0 / 32768}, nil},
		{"RIFX s24", wavSpec{riff: "RIFX", tag: wavPCM, channels: 1, rate: 16000, container: 3, data: s24(true, -5, 4096)},
			24, []float32{-5.0 / 8388608, 4096.0 / 8388608}, nil},
		{"RF64 s16", wavSpec{riff: "RF64", tag: wavPCM, channels: 1, rate: 16000, container: 2, data: le16(11, 12)},
			16, []float32{11.0 / 32768, 12.0 / 32768}, nil},
		{"mu-law", wavSpec{tag: wavMuLaw, channels: 1, rate: 8000, container: 1, data: []byte{0xff, 0x00, 0x80, 0x7f}},
			8, []float32{0, -32124.0 / 32768, 32124.0 / 32768, 0}, nil},
		{"A-law", wavSpec{tag: wavALaw, channels: 1, rate: 8000, container: 1, data: []byte{0xd5, 0x55, 0xaa, 0x2a}},
			8, []float32{8.0 / 32768, -8.0 / 32768, 32256.0 / 32768, -32256.0 / 32768}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.dataSize == 0 {
				tt.spec.dataSize = -1
			}
			file := append(buildWAV(tt.spec), tt.after...)
			got, info, err := DecodeRaw(bytes.NewReader(file))
			if err != nil {
				t.Fatalf("DecodeRaw: %v", err)
			}
			if info.Format != "wav" || info.SampleRate != tt.spec.rate || info.Channels != tt.spec.channels || info.BitsPerSample != tt.bits {
				t.Errorf("info = %+v, want wav %d Hz %d ch %d bits", info, tt.spec.rate, tt.spec.channels, tt.bits)
			}
			if want := int64(len(tt.want) / tt.spec.channels); info.Frames != want {
				t.Errorf("Frames = %d, want %d", info.Frames, want)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d samples %v, want %v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("sample %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestWAVErrors(t *testing.T) {
	good := wavSpec{tag: wavPCM, channels: 1, rate: 16000, container: 2, data: make([]byte, 96000), dataSize: -1}
	withData := func(f func(*wavSpec)) []byte { s := good; f(&s); return buildWAV(s) }
	full := buildWAV(good)
	fmtAt := bytes.Index(full, []byte("fmt "))
	tests := []struct {
		name string
		file []byte
		kind error
		msg  string
	}{
		{"empty", nil, ErrTruncated, "audio: empty input"},
		{"header only", full[:12], ErrTruncated, "before the fmt chunk"},
		{"cut in fmt", full[:30], ErrTruncated, `truncated "fmt " chunk`},
		{"no data chunk", full[:fmtAt+24], ErrTruncated, "before the data chunk"},
		{"truncated data", full[:44+1234], ErrTruncated, "audio: wav: truncated data chunk: have 1234 of 96000 bytes"},
		{"data before fmt", []byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00"), ErrCorrupt, "precedes the fmt chunk"},
		{"ADPCM", withData(func(s *wavSpec) { s.tag = 0x0011 }), ErrUnsupported, "IMA ADPCM"},
		{"zero channels", withData(func(s *wavSpec) { s.channels = 0 }), ErrCorrupt, "zero channels"},
		{"rate too low", withData(func(s *wavSpec) { s.rate = 10 }), ErrUnsupported, "sample rate 10 Hz"},
		{"odd container", withData(func(s *wavSpec) { s.container = 5 }), ErrUnsupported, "PCM with 40 bits"},
		{"float16", withData(func(s *wavSpec) { s.tag = wavFloat }), ErrUnsupported, "float with 16 bits"},
		{"bad GUID", func() []byte {
			s := good
			s.extensible = true
			b := buildWAV(s)
			b[bytes.Index(b, extensibleTail)+5] ^= 1
			return b
		}(), ErrUnsupported, "sub-format GUID"},
		{"five hours declared", withData(func(s *wavSpec) {
			s.data = make([]byte, 10)
			s.dataSize = 5 * 3600 * 16000 * 2
		}), ErrTooLong, "5h0m0s of audio exceeds the 4h0m0s limit"},
		{"AIFF", []byte("FORM\x00\x00\x00\x10AIFFCOMM"), ErrUnsupported, "AIFF is not supported"},
		{"AVI", []byte("RIFF\x00\x00\x00\x10AVI LIST"), ErrUnsupported, "not WAVE"},
		{"text", []byte("hello, world, this is not audio"), ErrUnsupported, "unrecognised format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Decode(bytes.NewReader(tt.file))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Decode error = %v, want %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "audio: ") {
				t.Errorf("error %q does not start with \"audio: \" and contain %q", err, tt.msg)
			}
		})
	}
}

// TestWAVLimit checks that a header declaring more audio than the limit is
// refused before the data is read.
func TestWAVLimit(t *testing.T) {
	s := wavSpec{tag: wavPCM, channels: 1, rate: 16000, container: 2, data: make([]byte, 2*16000*3), dataSize: -1}
	if _, _, err := DecodeLimit(bytes.NewReader(buildWAV(s)), 2*time.Second); !errors.Is(err, ErrTooLong) {
		t.Errorf("3 s WAV with a 2 s limit: error = %v, want ErrTooLong", err)
	}
	s.dataSize = 0xffffffff // unknown length: caught while decoding
	if _, _, err := DecodeLimit(bytes.NewReader(buildWAV(s)), 2*time.Second); !errors.Is(err, ErrTooLong) {
		t.Errorf("3 s streaming WAV with a 2 s limit: error = %v, want ErrTooLong", err)
	}
	if got, _, err := DecodeLimit(bytes.NewReader(buildWAV(s)), 4*time.Second); err != nil || len(got) != 48000 {
		t.Errorf("3 s WAV with a 4 s limit: %d samples, %v", len(got), err)
	}
}

// TestSoxWAVs decodes files written by sox, an independent writer
// (extensible 24-bit six-channel, 8-bit, float).
func TestSoxWAVs(t *testing.T) {
	tests := []struct {
		file     string
		rate, ch int
		bits     int
		frames   int64
		freqs    []float64
		minSNR   float64 // sox dithers, so 8-bit output is noisier than ideal
	}{
		{"tone_44k_stereo_s16.wav", 44100, 2, 16, 4410, []float64{440, 660}, 60},
		{"tone_48k_6ch_s24.wav", 48000, 6, 24, 1440, []float64{440, 550, 660, 770, 880, 990}, 60},
		{"tone_8k_mono_u8.wav", 8000, 1, 8, 800, []float64{440}, 35},
		{"tone_22k_stereo_f32.wav", 22050, 2, 32, 2205, []float64{440, 660}, 60},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, info, err := DecodeRaw(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if info.SampleRate != tt.rate || info.Channels != tt.ch || info.BitsPerSample != tt.bits || info.Frames != tt.frames {
				t.Errorf("info = %+v, want %d Hz, %d ch, %d bits, %d frames", info, tt.rate, tt.ch, tt.bits, tt.frames)
			}
			for c, f := range tt.freqs {
				amp, phase, snr := fitSine(channel(got, c, tt.ch), f, float64(tt.rate))
				// sox writes -6 dBFS sines starting at phase 0.
				if math.Abs(amp-0.5012) > 0.005 || math.Abs(phase) > 0.01 || snr < tt.minSNR {
					t.Errorf("channel %d: %g Hz fit amplitude %.4f phase %.4f SNR %.1f dB, want 0.5012, 0, >= %g dB", c, f, amp, phase, snr, tt.minSNR)
				}
			}
		})
	}
}
