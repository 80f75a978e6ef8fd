package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// Fuzz targets: every decoder must turn any bytes into samples or a
// classified error, without panicking or allocating what the input does
// not back. Seeds are the fixtures plus testdata/fuzz/<Target>/.
//
//	go test ./inference/audio -run '^$' -fuzz FuzzOgg -fuzztime 1m -fuzzminimizetime 2s
//
// (The short minimisation budget matters: minimising a 4 KB input with the
// default 60 s budget stalls the fuzzer for a minute per new input.)

func fuzzSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add(readFixture(f, name))
	}
}

// fuzzOnce decodes data (as format, or sniffed when empty) and checks the
// decoder's contract.
func fuzzOnce(t *testing.T, data []byte, format string, raw bool) {
	o := options{limit: 10 * time.Minute, raw: raw, maxSamples: 1 << 22, format: format}
	out, info, err := decode(bytes.NewReader(data), o)
	if err != nil {
		if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLong) {
			t.Fatalf("unclassified error: %v", err)
		}
		if !strings.HasPrefix(err.Error(), "audio: ") {
			t.Fatalf("error without the package prefix: %q", err)
		}
		return
	}
	if raw && int64(len(out)) != info.Frames*int64(info.Channels) {
		t.Fatalf("%d samples for %d frames of %d channels", len(out), info.Frames, info.Channels)
	}
	for i, v := range out {
		if !(v >= -1 && v <= 1) {
			t.Fatalf("sample %d = %v outside [-1, 1]", i, v)
		}
	}
}

func FuzzWAV(f *testing.F) {
	fuzzSeeds(f, "tone_8k_mono_u8.wav", "tone_22k_stereo_f32.wav")
	f.Add(buildWAV(wavSpec{riff: "RIFX", tag: wavPCM, channels: 2, rate: 16000, container: 3, data: make([]byte, 60), dataSize: -1}))
	f.Add(buildWAV(wavSpec{riff: "RF64", tag: wavFloat, extensible: true, channels: 1, rate: 16000, container: 8, data: make([]byte, 64), dataSize: -1}))
	f.Add(buildWAV(wavSpec{tag: wavMuLaw, channels: 1, rate: 8000, container: 1, data: []byte{1, 2, 3}, dataSize: 0xffffffff}))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOnce(t, data, "wav", true) })
}

func FuzzMP3(f *testing.F) {
	fuzzSeeds(f, "chirp_16k_mono.mp3")
	full := readFixture(f, "sine_44k_stereo.mp3")
	f.Add(full[:2000])
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOnce(t, data, "mp3", true) })
}

func FuzzFLAC(f *testing.F) {
	fuzzSeeds(f, "tone_44k_stereo_s16.flac")
	full := readFixture(f, "tone_48k_6ch_s24.flac")
	f.Add(full[:3000])
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOnce(t, data, "flac", true) })
}

func FuzzOgg(f *testing.F) {
	fuzzSeeds(f, "chirp_16k_mono.ogg", "six_11k.ogg")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Mutations would almost never survive the page checksum; repair
		// it so that they reach the Vorbis decoder.
		fuzzOnce(t, fixOggCRCs(data), "ogg", true)
	})
}

// fixOggCRCs rewrites the checksum of every complete page in a copy of data.
func fixOggCRCs(data []byte) []byte {
	data = append([]byte(nil), data...)
	for p := 0; p+27 <= len(data) && string(data[p:p+4]) == "OggS"; {
		nseg := int(data[p+26])
		if p+27+nseg > len(data) {
			break
		}
		size := 27 + nseg
		for _, l := range data[p+27 : p+27+nseg] {
			size += int(l)
		}
		if p+size > len(data) {
			break
		}
		page := data[p : p+size]
		clear(page[22:26])
		var crc uint32
		for _, b := range page {
			crc ^= uint32(b) << 24
			for i := 0; i < 8; i++ {
				if crc&0x80000000 != 0 {
					crc = crc<<1 ^ 0x04c11db7
				} else {
					crc <<= 1
				}
			}
		}
		binary.LittleEndian.PutUint32(page[22:], crc)
		p += size
	}
	return data
}

func FuzzDecode(f *testing.F) {
	fuzzSeeds(f, "tone_8k_mono_u8.wav", "chirp_16k_mono.mp3", "chirp_16k_mono.ogg", "tone_44k_stereo_s16.flac")
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x01x"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOnce(t, data, "", false) })
}
