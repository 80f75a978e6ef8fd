package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// oracleDir is the Whisper reference directory: $WHISPER_ORACLE_DIR, or
// ../shared/oracle/whisper next to the repository.
func oracleDir(t *testing.T) string {
	if dir := os.Getenv("WHISPER_ORACLE_DIR"); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("WHISPER_ORACLE_DIR is set but unreadable: %v", err)
		}
		return dir
	}
	dir := filepath.Join("..", "..", "..", "shared", "oracle", "whisper")
	if _, err := os.Stat(dir); err != nil {
		// CI clones the repo beside shared/; a missing oracle is a broken
		// setup, not a reason to pass.
		t.Fatalf("no oracle directory at %s (set WHISPER_ORACLE_DIR): %v", dir, err)
	}
	return dir
}

// TestOracleWAVs decodes the Whisper oracle's clips: 16 kHz mono 16-bit,
// the common case, must come out as exactly int16/32768 with no
// resampling.
func TestOracleWAVs(t *testing.T) {
	dir := oracleDir(t)
	for _, tt := range []struct {
		file   string
		frames int
	}{{"audio.wav", 48000}, {"audio_short.wav", 8000}, {"audio_zero.wav", 16000}} {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, info, err := DecodeFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := Info{Format: "wav", SampleRate: 16000, Channels: 1, BitsPerSample: 16, Frames: int64(tt.frames), Duration: time.Duration(tt.frames) * time.Second / 16000}
			if info != want {
				t.Errorf("info = %+v, want %+v", info, want)
			}
			if len(got) != tt.frames {
				t.Fatalf("got %d samples, want %d", len(got), tt.frames)
			}
			pcm := raw[44:]
			for i := range got {
				w := float32(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
				if got[i] != w {
					t.Fatalf("sample %d = %v, want %v", i, got[i], w)
				}
			}
		})
	}
}

// TestFLAC requires FLAC decodes to equal the WAVs they were encoded from.
func TestFLAC(t *testing.T) {
	for _, tt := range []struct {
		flac, wav string
		bits      int
	}{
		{"tone_44k_stereo_s16.flac", "tone_44k_stereo_s16.wav", 16},
		{"tone_48k_6ch_s24.flac", "tone_48k_6ch_s24.wav", 24},
	} {
		t.Run(tt.flac, func(t *testing.T) {
			got, info, err := DecodeRaw(bytes.NewReader(readFixture(t, tt.flac)))
			if err != nil {
				t.Fatal(err)
			}
			want, winfo, err := DecodeRaw(bytes.NewReader(readFixture(t, tt.wav)))
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != "flac" || info.SampleRate != winfo.SampleRate || info.Channels != winfo.Channels || info.BitsPerSample != tt.bits || info.Frames != winfo.Frames {
				t.Errorf("info = %+v, WAV info %+v", info, winfo)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d samples, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("sample %d = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

// TestOggVorbis compares against libvorbis's decode (oggdec) of the same
// files; the 16-bit reference limits agreement to about 90 dB.
func TestOggVorbis(t *testing.T) {
	for _, tt := range []struct {
		file     string
		rate, ch int
	}{
		{"sine_44k_stereo.ogg", 44100, 2},
		{"chirp_16k_mono.ogg", 16000, 1},
		{"six_11k.ogg", 11025, 6},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got, info, err := DecodeRaw(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			want := readS16(t, tt.file+".s16")
			if info.Format != "ogg" || info.SampleRate != tt.rate || info.Channels != tt.ch || info.Frames != int64(len(want)/tt.ch) {
				t.Errorf("info = %+v, want ogg %d Hz %d ch %d frames", info, tt.rate, tt.ch, len(want)/tt.ch)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d samples, want %d", len(got), len(want))
			}
			if snr := snrDB(got, want); snr < 80 {
				t.Errorf("SNR against libvorbis = %.1f dB, want >= 80", snr)
			}
		})
	}
}

// TestMP3 checks the decoded length (LAME gapless trimming) and alignment
// against the sine the files were encoded from.
func TestMP3(t *testing.T) {
	got, info, err := DecodeRaw(bytes.NewReader(readFixture(t, "sine_44k_stereo.mp3")))
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "mp3" || info.SampleRate != 44100 || info.Channels != 2 || info.Frames != 22050 {
		t.Errorf("info = %+v, want mp3 44100 Hz 2 ch 22050 frames", info)
	}
	for c, f := range []float64{440, 660} {
		amp, phase, snr := fitSine(channel(got, c, 2), f, 44100)
		// LAME encodes this sine 0.4 dB low (libmad and LAME's own decoder
		// also peak at 0.4777). A one-sample misalignment would shift the
		// phase by 0.063 rad at 440 Hz.
		if math.Abs(amp-0.4777) > 0.005 || math.Abs(phase) > 0.02 || snr < 40 {
			t.Errorf("channel %d: %g Hz fit amplitude %.4f phase %.4f SNR %.1f dB, want 0.4777, 0, >= 40 dB", c, f, amp, phase, snr)
		}
	}

	// MPEG-2 (16 kHz), mono, VBR with a Xing tag.
	got, info, err = DecodeRaw(bytes.NewReader(readFixture(t, "chirp_16k_mono.mp3")))
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 16000 || info.Channels != 1 || info.Frames != 8000 {
		t.Errorf("info = %+v, want 16000 Hz 1 ch 8000 frames", info)
	}
	ref := readS16(t, "chirp_16k_mono.mp3.s16") // LAME's own decoder
	if len(got) != len(ref) {
		t.Fatalf("got %d samples, LAME decoded %d", len(got), len(ref))
	}
	if snr := snrDB(got, ref); snr < 60 {
		t.Errorf("SNR against LAME's decoder = %.1f dB, want >= 60", snr)
	}
}

// TestDecodeResamples runs every fixture through Decode and checks the
// 16 kHz mono output's length and tones.
func TestDecodeResamples(t *testing.T) {
	for _, tt := range []struct {
		file   string
		rate   int
		frames int
		tones  []float64 // amplitude 0.5012 in every channel, halved by the downmix
	}{
		{"sine_44k_stereo.ogg", 44100, 22050, []float64{440, 660}},
		{"tone_44k_stereo_s16.flac", 44100, 4410, []float64{440, 660}},
		{"tone_22k_stereo_f32.wav", 22050, 2205, []float64{440, 660}},
		{"tone_8k_mono_u8.wav", 8000, 800, []float64{440}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got, info, err := Decode(bytes.NewReader(readFixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if info.SampleRate != tt.rate || info.Frames != int64(tt.frames) {
				t.Errorf("info = %+v, want %d Hz, %d frames", info, tt.rate, tt.frames)
			}
			if want := (tt.frames*16000 + tt.rate - 1) / tt.rate; len(got) != want {
				t.Errorf("got %d samples, want %d", len(got), want)
			}
			mid := got[len(got)/8 : len(got)*7/8]
			for _, f := range tt.tones {
				want := 0.5012 / float64(len(tt.tones))
				if amp := goertzel(mid, f, 16000); math.Abs(amp-want) > 0.03*want {
					t.Errorf("%g Hz amplitude %.4f, want %.4f", f, amp, want)
				}
			}
		})
	}
}

// TestTruncated cuts every fixture short; each cut must be reported as
// truncation, never as success.
func TestTruncated(t *testing.T) {
	for _, file := range []string{
		"sine_44k_stereo.ogg", "six_11k.ogg", "sine_44k_stereo.mp3", "chirp_16k_mono.mp3",
		"tone_44k_stereo_s16.flac", "tone_48k_6ch_s24.flac", "tone_44k_stereo_s16.wav",
	} {
		data := readFixture(t, file)
		for _, frac := range []float64{0.02, 0.3, 0.5, 0.77, 0.999} {
			n := int(float64(len(data)) * frac)
			_, _, err := Decode(bytes.NewReader(data[:n]))
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("%s cut to %d of %d bytes: error = %v, want ErrTruncated", file, n, len(data), err)
			}
		}
	}
	// An MP3 cut exactly at a frame boundary is caught by the LAME frame count.
	data := readFixture(t, "sine_44k_stereo.mp3")
	h, err := parseMPEGHeader(data)
	if err != nil {
		t.Fatal(err)
	}
	cut := 5 * h.size // frame sizes vary by the padding bit; find a real boundary
	for cut < len(data) && (data[cut] != 0xff || data[cut+1]&0xe0 != 0xe0) {
		cut++
	}
	if _, _, err := Decode(bytes.NewReader(data[:cut])); !errors.Is(err, ErrTruncated) {
		t.Errorf("MP3 cut at frame boundary %d: error = %v, want ErrTruncated", cut, err)
	}
}

func TestDetect(t *testing.T) {
	flac := readFixture(t, "tone_44k_stereo_s16.flac")
	id3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x05hello"), flac...)
	opus := oggPage([]byte("OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"))
	tests := []struct {
		name   string
		data   []byte
		format string
		kind   error
		msg    string
	}{
		{"FLAC after ID3v2", id3, "flac", nil, ""},
		{"Opus in Ogg", opus, "", ErrUnsupported, "no Vorbis stream (found Opus)"},
		{"MP4", []byte("\x00\x00\x00\x20ftypM4A \x00\x00"), "", ErrUnsupported, "MP4/M4A is not supported"},
		{"AAC ADTS", []byte("\xff\xf1\x50\x80\x02\x1f\xfc\x21"), "", ErrUnsupported, "AAC (ADTS)"},
		{"MPEG layer II", []byte("\xff\xfd\x90\x44\x00\x00\x00\x00"), "", ErrUnsupported, "layer 2"},
		{"MPEG 2.5", []byte("\xff\xe3\x18\xc4\x00\x00\x00\x00"), "", ErrUnsupported, "MPEG 2.5"},
		{"ID3 only", []byte("ID3\x04\x00\x00\x00\x00\x00\x02hi"), "", ErrTruncated, "after its ID3 tag"},
		{"ID3 cut", []byte("ID3\x04\x00\x00\x00\x00\x01\x00hi"), "", ErrTruncated, "id3: tag: have 2 of 128 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, info, err := Decode(bytes.NewReader(tt.data))
			if tt.kind == nil {
				if err != nil || info.Format != tt.format {
					t.Fatalf("format %q, error %v; want %q", info.Format, err, tt.format)
				}
				return
			}
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %v, want %v containing %q", err, tt.kind, tt.msg)
			}
		})
	}
}

// oggPage wraps one packet in a beginning-of-stream Ogg page with a valid
// checksum.
func oggPage(packet []byte) []byte {
	p := []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01")
	p = append(p, byte(len(packet)))
	p = append(p, packet...)
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
	binary.LittleEndian.PutUint32(p[22:], crc)
	return p
}

// errReader fails after its data.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestReadError reports the caller's reader failure, not a decoding error.
func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, file := range []string{"sine_44k_stereo.ogg", "sine_44k_stereo.mp3", "tone_44k_stereo_s16.flac", "tone_44k_stereo_s16.wav"} {
		data := readFixture(t, file)
		_, _, err := Decode(&errReader{data: data[:len(data)/2], err: boom})
		if !errors.Is(err, boom) {
			t.Errorf("%s: error = %v, want the reader's error", file, err)
		}
	}
}

func TestToMono(t *testing.T) {
	tests := []struct {
		in       []float32
		channels int
		want     []float32
	}{
		{[]float32{0.5, -0.5}, 1, []float32{0.5, -0.5}},
		{[]float32{1, 0, 0.5, 0.5, -1, 1}, 2, []float32{0.5, 0.5, 0}},
		{[]float32{0.3, 0.3, 0.3, 0.9, 0, 0}, 3, []float32{0.3, 0.3}},
		{[]float32{1, 1, 1}, 2, []float32{1}}, // a partial frame is dropped
		{[]float32{1}, 0, nil},
	}
	for _, tt := range tests {
		got := ToMono(tt.in, tt.channels)
		if len(got) != len(tt.want) {
			t.Errorf("ToMono(%v, %d) = %v, want %v", tt.in, tt.channels, got, tt.want)
			continue
		}
		for i := range got {
			if math.Abs(float64(got[i]-tt.want[i])) > 1e-6 {
				t.Errorf("ToMono(%v, %d) = %v, want %v", tt.in, tt.channels, got, tt.want)
				break
			}
		}
	}
}

func TestDecodeFileMissing(t *testing.T) {
	_, _, err := DecodeFile(filepath.Join(t.TempDir(), "absent.wav"))
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "audio: ") {
		t.Errorf("error = %v, want a wrapped os.ErrNotExist", err)
	}
}

// TestShortReads decodes through readers that return one byte at a time
// and data together with io.EOF; results must not change.
func TestShortReads(t *testing.T) {
	for _, file := range []string{"sine_44k_stereo.ogg", "chirp_16k_mono.mp3", "tone_48k_6ch_s24.flac", "tone_22k_stereo_f32.wav"} {
		data := readFixture(t, file)
		want, _, err := DecodeRaw(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]io.Reader{
			"one byte":   iotest.OneByteReader(bytes.NewReader(data)),
			"data + EOF": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			got, _, err := DecodeRaw(r)
			if err != nil || len(got) != len(want) {
				t.Errorf("%s via %s: %d samples, %v; want %d", file, name, len(got), err, len(want))
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s via %s: sample %d differs", file, name, i)
					break
				}
			}
		}
	}
}
