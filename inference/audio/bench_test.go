package audio

import (
	"bytes"
	"testing"
)

// BenchmarkDecodeWAV44k measures Decode on one minute of 44.1 kHz stereo.
func BenchmarkDecodeWAV44k(b *testing.B) {
	wav := benchWAV(benchPCM(60*44100, 2), 44100, 2)
	b.SetBytes(int64(len(wav)))
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(wav)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeOgg measures Decode on 30 s of chained Ogg Vorbis.
func BenchmarkDecodeOgg(b *testing.B) {
	ogg := bytes.Repeat(benchOgg, 60)
	b.SetBytes(int64(len(ogg)))
	for b.Loop() {
		if _, _, err := Decode(bytes.NewReader(ogg)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchInputs checks that the benchmark's synthetic inputs decode to
// the intended length, so that BenchDecode measures what it says.
func TestBenchInputs(t *testing.T) {
	out, info, err := DecodeRaw(bytes.NewReader(benchOggLong(4)))
	if err != nil {
		t.Fatal(err)
	}
	// Each copy of the 0.5 s fixture adds its packets' frames; only the
	// first packet of the whole stream yields nothing.
	if info.Frames < 4*22050-2048 || info.Frames > 4*22050+2048 || len(out) != int(info.Frames)*2 {
		t.Errorf("long Ogg stream: %d frames, want about %d", info.Frames, 4*22050)
	}
	if _, info, err = DecodeRaw(bytes.NewReader(benchMP3Repeat(4))); err != nil || info.Frames != 4*21*1152 {
		t.Errorf("repeated MP3: %d frames, %v; want %d", info.Frames, err, 4*21*1152)
	}
}
