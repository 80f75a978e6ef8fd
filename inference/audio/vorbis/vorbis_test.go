package vorbis

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
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reference reads libvorbis's decode (oggdec, 16-bit little-endian).
func reference(t *testing.T, name string) []float32 {
	b := fixture(t, name+".s16")
	out := make([]float32, len(b)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return out
}

func decodeAll(r io.Reader) ([]float32, *Decoder, error) {
	d, err := NewDecoder(r)
	if err != nil {
		return nil, nil, err
	}
	var out []float32
	for {
		s, err := d.Next()
		if err == io.EOF {
			return out, d, nil
		}
		if err != nil {
			return out, d, err
		}
		out = append(out, s...)
	}
}

func snr(got, want []float32) float64 {
	var sig, noise float64
	for i := range want {
		d := float64(got[i] - want[i])
		sig += float64(want[i]) * float64(want[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

// TestMatchesLibvorbis compares whole decodes with libvorbis's, which
// exercises floor 1, residue types 1 and 2, coupling, both block sizes and
// end trimming. The 16-bit reference bounds agreement near 90 dB.
func TestMatchesLibvorbis(t *testing.T) {
	for _, tt := range []struct {
		file     string
		rate, ch int
	}{
		{"sine_44k_stereo.ogg", 44100, 2},
		{"chirp_16k_mono.ogg", 16000, 1},
		{"six_11k.ogg", 11025, 6},
	} {
		t.Run(tt.file, func(t *testing.T) {
			got, d, err := decodeAll(bytes.NewReader(fixture(t, tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if d.SampleRate() != tt.rate || d.Channels() != tt.ch {
				t.Errorf("%d Hz %d ch, want %d Hz %d ch", d.SampleRate(), d.Channels(), tt.rate, tt.ch)
			}
			want := reference(t, tt.file)
			if len(got) != len(want) {
				t.Fatalf("got %d samples, libvorbis %d", len(got), len(want))
			}
			if s := snr(got, want); s < 80 {
				t.Errorf("SNR against libvorbis %.1f dB, want >= 80", s)
			}
		})
	}
}

// pages splits an Ogg file into pages.
func pages(t *testing.T, data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 27 || string(data[:4]) != "OggS" {
			t.Fatalf("bad page at %d bytes from the end", len(data))
		}
		size := 27 + int(data[26])
		for _, l := range data[27 : 27+int(data[26])] {
			size += int(l)
		}
		out = append(out, data[:size:size])
		data = data[size:]
	}
	return out
}

func setCRC(p []byte) []byte {
	p = append([]byte(nil), p...)
	clear(p[22:26])
	binary.LittleEndian.PutUint32(p[22:], crcUpdate(0, p))
	return p
}

// TestChainedAndMultiplexed decodes a stream preceded by another codec's
// first page, and two chained streams back to back.
func TestChainedAndMultiplexed(t *testing.T) {
	file := fixture(t, "chirp_16k_mono.ogg")
	want := reference(t, "chirp_16k_mono.ogg")

	opus := []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead\x01\x01\x38\x01\x80\x3e\x00\x00\x00\x00\x00")
	got, _, err := decodeAll(bytes.NewReader(append(setCRC(opus), file...)))
	if err != nil || len(got) != len(want) {
		t.Errorf("after an Opus page: %d samples, %v; want %d", len(got), err, len(want))
	}

	// Chain a second copy with another serial number.
	second := bytes.Clone(file)
	var chained []byte
	for _, p := range pages(t, second) {
		p = bytes.Clone(p)
		p[14]++
		chained = append(chained, setCRC(p)...)
	}
	got, _, err = decodeAll(bytes.NewReader(append(bytes.Clone(file), chained...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(want) {
		t.Fatalf("chained: %d samples, want %d", len(got), 2*len(want))
	}
	if s := snr(got[len(want):], want); s < 80 {
		t.Errorf("second chained stream: SNR %.1f dB", s)
	}
}

// repage moves the audio packets of a file whose audio sits on one page
// onto two pages, split before packet m, with every audio granule position
// lowered by shift.
func repage(t *testing.T, file []byte, m int, shift int64) []byte {
	ps := pages(t, file)
	d, err := NewDecoder(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 {
		t.Fatalf("want headers on two pages and audio on one, got %d pages", len(ps))
	}
	audio := ps[2]
	var packets [][]byte
	body := audio[27+int(audio[26]):]
	var cur []byte
	for _, l := range audio[27 : 27+int(audio[26])] {
		cur = append(cur, body[:l]...)
		body = body[l:]
		if l < 255 {
			packets = append(packets, cur)
			cur = nil
		}
	}
	// Frames finished by packets [0, m): each packet after the first adds
	// a quarter of the previous block and a quarter of its own.
	var granule int64
	prev := 0
	for i, p := range packets[:m] {
		br := newBitReader(p)
		br.read1()
		n := d.s.blocksize[0]
		if d.s.modes[br.read(d.s.modeBits)].long {
			n = d.s.blocksize[1]
		}
		if i > 0 {
			granule += int64(prev/4 + n/4)
		}
		prev = n
	}
	final := int64(binary.LittleEndian.Uint64(audio[6:]))
	page := func(pkts [][]byte, flags byte, seq uint32, g int64) []byte {
		var lacing, data []byte
		for _, p := range pkts {
			n := len(p)
			for ; n >= 255; n -= 255 {
				lacing = append(lacing, 255)
			}
			lacing = append(lacing, byte(n))
			data = append(data, p...)
		}
		h := bytes.Clone(audio[:27])
		h[5] = flags
		binary.LittleEndian.PutUint64(h[6:], uint64(g))
		binary.LittleEndian.PutUint32(h[18:], seq)
		h[26] = byte(len(lacing))
		return setCRC(append(append(h, lacing...), data...))
	}
	out := append(bytes.Clone(ps[0]), ps[1]...)
	out = append(out, page(packets[:m], 0, 2, granule-shift)...)
	return append(out, page(packets[m:], flagEOS, 3, final-shift)...)
}

// TestStartTrim lowers every granule position by k frames, as in a stream
// cut out of a longer one: the decoder must drop the first k frames.
func TestStartTrim(t *testing.T) {
	file := fixture(t, "sine_44k_stereo.ogg")
	want := reference(t, "sine_44k_stereo.ogg")
	for _, k := range []int64{0, 300} {
		got, _, err := decodeAll(bytes.NewReader(repage(t, file, 10, k)))
		if err != nil {
			t.Fatal(err)
		}
		rest := want[2*k:]
		if len(got) != len(rest) {
			t.Fatalf("shift %d: got %d samples, want %d", k, len(got), len(rest))
		}
		if s := snr(got, rest); s < 80 {
			t.Errorf("shift %d: SNR %.1f dB", k, s)
		}
	}
}

func TestDamage(t *testing.T) {
	file := fixture(t, "sine_44k_stereo.ogg")
	ps := pages(t, file)
	flipped := bytes.Clone(file)
	flipped[len(file)/2] ^= 0x40
	noEOS := bytes.Join(ps[:len(ps)-1], nil)
	noCapture := bytes.Clone(file)
	copy(noCapture[len(ps[0]):], "Oggs")
	tests := []struct {
		name string
		data []byte
		kind error
		msg  string
	}{
		{"flipped bit", flipped, ErrCorrupt, "checksum mismatch"},
		{"cut mid-page", file[:len(file)-100], ErrTruncated, "have"},
		{"no end-of-stream page", noEOS, ErrTruncated, "before the end-of-stream page"},
		{"headers only", bytes.Join(ps[:2], nil), ErrTruncated, ""},
		{"lost capture pattern", noCapture, ErrCorrupt, "no page capture pattern"},
		{"empty", nil, ErrTruncated, "before any Vorbis stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeAll(bytes.NewReader(tt.data))
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %v, want %v containing %q", err, tt.kind, tt.msg)
			}
		})
	}
}

// bitWriter packs bits LSB-first, as Vorbis packets are.
type bitWriter struct {
	buf  []byte
	nbit uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		w.buf[len(w.buf)-1] |= byte(v>>i&1) << (w.nbit % 8)
		w.nbit++
	}
}

// writeCode writes a codeword MSB-first, the order the tree reads it.
func (w *bitWriter) writeCode(code string) {
	for _, c := range code {
		w.write(uint32(c-'0'), 1)
	}
}

// TestHuffmanAssignment uses the spec's worked example (section 3.2.1):
// lengths 2 4 4 4 4 2 3 3 give 00 0100 0101 0110 0111 10 110 111.
func TestHuffmanAssignment(t *testing.T) {
	c := &codebook{entries: 8, single: -1}
	if err := c.buildTree([]uint8{2, 4, 4, 4, 4, 2, 3, 3}, 0); err != nil {
		t.Fatal(err)
	}
	codes := []string{"00", "0100", "0101", "0110", "0111", "10", "110", "111"}
	var w bitWriter
	for _, code := range codes {
		w.writeCode(code)
	}
	br := newBitReader(w.buf)
	for want := range codes {
		if got := c.decodeScalar(&br); got != want {
			t.Fatalf("entry %d decoded as %d", want, got)
		}
	}
	// 26 bits of codes fill 4 bytes: the 6 zero bits of padding read as
	// three "00" codewords, then the packet ends.
	for i := 0; i < 3; i++ {
		if got := c.decodeScalar(&br); got != 0 {
			t.Fatalf("padding decoded as %d, want 0", got)
		}
	}
	if got := c.decodeScalar(&br); got != -1 || !br.eop {
		t.Errorf("past the end: %d, eop %v; want -1, true", got, br.eop)
	}

	// Sparse books skip unused entries; the code is assigned in entry order.
	c = &codebook{entries: 4, single: -1}
	if err := c.buildTree([]uint8{1, 0, 2, 2}, 0); err != nil {
		t.Fatal(err)
	}
	w = bitWriter{}
	w.writeCode("11")
	w.writeCode("0")
	w.writeCode("10")
	br = newBitReader(w.buf)
	for _, want := range []int{3, 0, 2} {
		if got := c.decodeScalar(&br); got != want {
			t.Errorf("decoded %d, want %d", got, want)
		}
	}
}

func TestHuffmanRejects(t *testing.T) {
	for _, tt := range []struct {
		lengths []uint8
		msg     string
	}{
		{[]uint8{1, 1, 1}, "overfill"},
		{[]uint8{2, 2, 2, 2, 1}, "overfill"},
		{[]uint8{1, 2}, "incomplete"},
		{[]uint8{3, 3, 3}, "incomplete"},
	} {
		c := &codebook{entries: len(tt.lengths), single: -1}
		err := c.buildTree(tt.lengths, 7)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("lengths %v: error %v, want one containing %q", tt.lengths, err, tt.msg)
		}
	}
	// A single used entry is accepted (libvorbis does) and reads its length.
	c := &codebook{entries: 3, single: -1}
	if err := c.buildTree([]uint8{0, 1, 0}, 0); err != nil {
		t.Fatal(err)
	}
	br := newBitReader([]byte{0x02})
	if a, b := c.decodeScalar(&br), c.decodeScalar(&br); a != 1 || b != 1 || br.pos != 0 || br.bit != 2 {
		t.Errorf("single-entry book: %d %d at bit %d", a, b, br.bit)
	}
}

func TestLookup1Values(t *testing.T) {
	for _, tt := range []struct{ entries, dims, want int }{
		{6561, 8, 3}, {625, 4, 5}, {624, 4, 4}, {1, 1, 1}, {16, 2, 4}, {17, 2, 4}, {15, 2, 3},
		{100, 65535, 1}, {1<<24 - 1, 1, 1<<24 - 1}, {1<<24 - 1, 2, 4095},
	} {
		if got := lookup1Values(tt.entries, tt.dims); got != tt.want {
			t.Errorf("lookup1Values(%d, %d) = %d, want %d", tt.entries, tt.dims, got, tt.want)
		}
	}
}

func TestFloat32Unpack(t *testing.T) {
	for _, tt := range []struct {
		x    uint32
		want float32
	}{
		{788<<21 | 1, 1},
		{0x80000000 | 788<<21 | 3, -3},
		{(788-20)<<21 | 1<<20, 1},
		{0, 0},
	} {
		if got := float32Unpack(tt.x); got != tt.want {
			t.Errorf("float32Unpack(%#x) = %v, want %v", tt.x, got, tt.want)
		}
	}
}
