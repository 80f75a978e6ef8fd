package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readS16 reads raw 16-bit little-endian PCM as float32.
func readS16(t testing.TB, name string) []float32 {
	b := readFixture(t, name)
	out := make([]float32, len(b)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return out
}

// channel extracts one channel of interleaved samples.
func channel(s []float32, ch, channels int) []float64 {
	out := make([]float64, 0, len(s)/channels)
	for i := ch; i < len(s); i += channels {
		out = append(out, float64(s[i]))
	}
	return out
}

// fitSine least-squares fits a·sin(ωt) + b·cos(ωt) at frequency f and
// returns amplitude, phase (radians, 0 for a sine starting at t=0) and the
// SNR in dB of the signal against the residual.
func fitSine(x []float64, f, rate float64) (amp, phase, snr float64) {
	var ss, cc, sc, xs, xc float64
	w := 2 * math.Pi * f / rate
	for i, v := range x {
		s, c := math.Sin(w*float64(i)), math.Cos(w*float64(i))
		ss += s * s
		cc += c * c
		sc += s * c
		xs += v * s
		xc += v * c
	}
	det := ss*cc - sc*sc
	a := (xs*cc - xc*sc) / det
	b := (xc*ss - xs*sc) / det
	var sig, res float64
	for i, v := range x {
		m := a*math.Sin(w*float64(i)) + b*math.Cos(w*float64(i))
		sig += m * m
		res += (v - m) * (v - m)
	}
	return math.Hypot(a, b), math.Atan2(b, a), 10 * math.Log10(sig/res)
}

// snrDB compares got against want sample by sample.
func snrDB(got, want []float32) float64 {
	var sig, noise float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		sig += float64(want[i]) * float64(want[i])
		noise += d * d
	}
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// goertzel returns the amplitude of the frequency-f component of x.
func goertzel(x []float32, f, rate float64) float64 {
	w := 2 * math.Pi * f / rate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(max(power, 0)) / float64(len(x))
}

// sine returns n samples of amp·sin(2πft) at rate.
func sine(n int, f, rate, amp float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*f*float64(i)/rate))
	}
	return out
}

// wavSpec describes a WAV file for buildWAV.
type wavSpec struct {
	riff       string // "RIFF", "RIFX", "RF64"
	tag        uint16
	extensible bool
	channels   int
	rate       int
	container  int // bytes per sample
	validBits  int // 0: 8·container
	data       []byte
	dataSize   int64 // -1: len(data); otherwise written as given
	extra      []byte
}

// buildWAV writes a WAV file with the spec's chunks; extra chunks go
// between fmt and data.
func buildWAV(s wavSpec) []byte {
	var order binary.ByteOrder = binary.LittleEndian
	if s.riff == "RIFX" {
		order = binary.BigEndian
	}
	u16 := func(b *bytes.Buffer, v uint16) { var x [2]byte; order.PutUint16(x[:], v); b.Write(x[:]) }
	u32 := func(b *bytes.Buffer, v uint32) { var x [4]byte; order.PutUint32(x[:], v); b.Write(x[:]) }
	var fmtc bytes.Buffer
	tag := s.tag
	if s.extensible {
		tag = wavExtensible
	}
	u16(&fmtc, tag)
	u16(&fmtc, uint16(s.channels))
	u32(&fmtc, uint32(s.rate))
	u32(&fmtc, uint32(s.rate*s.channels*s.container))
	u16(&fmtc, uint16(s.channels*s.container))
	u16(&fmtc, uint16(8*s.container))
	if s.extensible {
		u16(&fmtc, 22)
		valid := s.validBits
		if valid == 0 {
			valid = 8 * s.container
		}
		u16(&fmtc, uint16(valid))
		u32(&fmtc, 0)
		u16(&fmtc, s.tag)
		fmtc.Write(extensibleTail)
	}
	var body bytes.Buffer
	body.WriteString("WAVE")
	if s.riff == "RF64" {
		body.WriteString("ds64")
		u32(&body, 28)
		var x [8]byte
		binary.LittleEndian.PutUint64(x[:], 0)
		body.Write(x[:])
		binary.LittleEndian.PutUint64(x[:], uint64(len(s.data)))
		body.Write(x[:])
		binary.LittleEndian.PutUint64(x[:], 0)
		body.Write(x[:])
		u32(&body, 0)
	}
	body.WriteString("fmt ")
	u32(&body, uint32(fmtc.Len()))
	body.Write(fmtc.Bytes())
	body.Write(s.extra)
	body.WriteString("data")
	size := s.dataSize
	if size < 0 {
		size = int64(len(s.data))
	}
	if s.riff == "RF64" {
		size = 0xffffffff
	}
	u32(&body, uint32(size))
	body.Write(s.data)
	var out bytes.Buffer
	riff := s.riff
	if riff == "" {
		riff = "RIFF"
	}
	out.WriteString(riff)
	u32(&out, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}
