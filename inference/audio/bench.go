package audio

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The 0.5 s test fixtures, repeated to make long Ogg and MP3 inputs.
var (
	//go:embed testdata/sine_44k_stereo.ogg
	benchOgg []byte
	//go:embed testdata/sine_44k_stereo.mp3
	benchMP3 []byte
)

// BenchDecode measures decoding to 16 kHz mono on 10 minutes of 44.1 kHz
// stereo audio in each format, plus the resampler alone and, as the
// baseline measured in the same run, a bare int16-to-float32 conversion of
// the same PCM. Each result is one JSON-ready measurement.
func BenchDecode(ctx context.Context) ([]map[string]any, error) {
	const seconds = 600
	pcm := benchPCM(seconds*44100, 2)
	wav44 := benchWAV(pcm, 44100, 2)
	wav16 := benchWAV(benchPCM(seconds*16000, 1), 16000, 1)
	ogg := benchOggLong(seconds * 2)
	mp3 := benchMP3Repeat(seconds * 2)

	var results []map[string]any
	// Each case returns the output sample count and the audio duration.
	record := func(name, input string, f func() (int, float64, error)) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		n, audioS, err := f()
		elapsed := time.Since(start).Seconds()
		if err != nil {
			return fmt.Errorf("audio bench %s: %w", name, err)
		}
		results = append(results, map[string]any{
			"bench":      "audio",
			"case":       name,
			"input":      input,
			"audio_s":    round3(audioS),
			"samples":    n,
			"seconds":    round3(elapsed),
			"x_realtime": math.Round(audioS / elapsed),
		})
		return nil
	}
	decoded := func(out []float32, info Info, err error) (int, float64, error) {
		return len(out), info.Duration.Seconds(), err
	}
	cases := []struct {
		name, input string
		f           func() (int, float64, error)
	}{
		{"baseline-int16-to-float32", "PCM 44.1 kHz stereo", func() (int, float64, error) {
			out := make([]float32, len(pcm)/2)
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
			}
			return len(out), seconds, nil
		}},
		{"wav-raw", "WAV 44.1 kHz stereo 16-bit", func() (int, float64, error) { return decoded(DecodeRaw(bytes.NewReader(wav44))) }},
		{"wav-decode", "WAV 44.1 kHz stereo 16-bit", func() (int, float64, error) { return decoded(Decode(bytes.NewReader(wav44))) }},
		{"wav-decode-16k-mono", "WAV 16 kHz mono 16-bit (no resampling)", func() (int, float64, error) { return decoded(Decode(bytes.NewReader(wav16))) }},
		{"resample-44k1-16k", "mono float32", func() (int, float64, error) {
			mono := make([]float32, seconds*44100)
			for i := range mono {
				mono[i] = float32(int16(binary.LittleEndian.Uint16(pcm[4*i:]))) / 32768
			}
			return len(Resample(mono, 44100, 16000)), seconds, nil
		}},
		{"ogg-decode", "Ogg Vorbis 44.1 kHz stereo q3, one stream", func() (int, float64, error) { return decoded(Decode(bytes.NewReader(ogg))) }},
		{"mp3-decode", "MP3 44.1 kHz stereo 128 kbit/s", func() (int, float64, error) { return decoded(Decode(bytes.NewReader(mp3))) }},
	}
	for _, c := range cases {
		if err := record(c.name, c.input, c.f); err != nil {
			return results, err
		}
	}
	return results, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// benchPCM is n frames of 16-bit little-endian tones and noise.
func benchPCM(n, channels int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 2*n*channels)
	for i := 0; i < n; i++ {
		for c := 0; c < channels; c++ {
			v := 0.3*math.Sin(float64(i)*0.0627*float64(c+1)) + 0.05*rng.NormFloat64()
			binary.LittleEndian.PutUint16(b[2*(i*channels+c):], uint16(int16(v*32767)))
		}
	}
	return b
}

func benchWAV(pcm []byte, rate, channels int) []byte {
	var h bytes.Buffer
	w := func(v any) { binary.Write(&h, binary.LittleEndian, v) }
	h.WriteString("RIFF")
	w(uint32(36 + len(pcm)))
	h.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(wavPCM))
	w(uint16(channels))
	w(uint32(rate))
	w(uint32(rate * channels * 2))
	w(uint16(channels * 2))
	w(uint16(16))
	h.WriteString("data")
	w(uint32(len(pcm)))
	return append(h.Bytes(), pcm...)
}

// benchMP3Repeat concatenates the fixture's audio frames n times, without
// its LAME tag frame: the tag's frame count would end decoding after the
// first copy.
func benchMP3Repeat(n int) []byte {
	h, err := parseMPEGHeader(benchMP3)
	if err != nil {
		panic("audio: bench fixture is not MP3: " + err.Error())
	}
	return bytes.Repeat(benchMP3[h.size:], n)
}

// benchOggLong builds one logical Vorbis stream from the fixture's headers
// and n copies of its audio packets (the seams click; speed does not care).
// Granule positions only grow, far beyond the true sample count, so that
// the decoder trims nothing.
func benchOggLong(n int) []byte {
	var pages [][]byte
	for rest := benchOgg; len(rest) >= 27; {
		size := 27 + int(rest[26])
		for _, l := range rest[27 : 27+int(rest[26])] {
			size += int(l)
		}
		pages = append(pages, rest[:size])
		rest = rest[size:]
	}
	var packets [][]byte
	for _, p := range pages[2:] {
		lacing := p[27 : 27+int(p[26])]
		body := p[27+len(lacing):]
		var cur []byte
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				packets = append(packets, cur)
				cur = nil
			}
		}
	}
	out := append(bytes.Clone(pages[0]), pages[1]...)
	const perPage = 32
	total := n * len(packets)
	for first, seq := 0, uint32(2); first < total; first, seq = first+perPage, seq+1 {
		var lacing, data []byte
		for i := first; i < min(first+perPage, total); i++ {
			p := packets[i%len(packets)]
			for k := len(p); ; k -= 255 {
				if k < 255 {
					lacing = append(lacing, byte(k))
					break
				}
				lacing = append(lacing, 255)
			}
			data = append(data, p...)
		}
		h := bytes.Clone(pages[2][:27])
		h[5] = 0
		if first+perPage >= total {
			h[5] = 4 // end of stream
		}
		binary.LittleEndian.PutUint64(h[6:], uint64(seq)<<40)
		binary.LittleEndian.PutUint32(h[18:], seq)
		h[26] = byte(len(lacing))
		page := append(append(h, lacing...), data...)
		clear(page[22:26])
		binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
		out = append(out, page...)
	}
	return out
}

// oggCRC is Ogg's page checksum (CRC-32, polynomial 0x04c11db7, MSB first).
func oggCRC(p []byte) uint32 {
	var crc uint32
	for _, b := range p {
		crc ^= uint32(b) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
