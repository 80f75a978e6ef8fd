package vorbis

import (
	"errors"
	"io"
	"math"
)

// Decoder decodes one Ogg Vorbis stream (and any chained streams after it
// with the same channel count and rate) to interleaved float32 samples.
type Decoder struct {
	ogg   *oggReader
	s     *setup
	first *setup // the first chained stream's setup: later links must match it
	tf    [2]*imdct
	slope [2][]float32 // rising window halves for the short and long block

	// Per-channel working memory, sized for the long block.
	spectrum [][]float32
	curve    []float32
	pcm      [][]float32
	overlap  [][]float32 // windowed right half of the previous block
	prevN    int         // previous block size; 0 before the first audio packet
	floorY   [][]int
	final    []int
	step2    []bool
	used     []bool
	decode   []bool
	scratch  residueScratch
	vecs     [][]float32
	skips    []bool

	out []float32

	// Granule bookkeeping (spec A.2): output is held until the first
	// granule position anchors it, so that a stream that starts mid-way can
	// drop its leading samples, and the last packet is cut to the final
	// granule position.
	anchored bool
	held     int64 // frames held while not anchored
	pos      int64 // granule position after the last frame emitted
}

// NewDecoder reads the Ogg stream's three Vorbis header packets.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{ogg: newOggReader(r)}
	p, err := d.ogg.nextPacket()
	if err != nil {
		return nil, err
	}
	if err := d.start(p); err != nil {
		return nil, err
	}
	return d, nil
}

// SampleRate is the stream's sample rate in Hz.
func (d *Decoder) SampleRate() int { return d.s.rate }

// Channels is the stream's channel count.
func (d *Decoder) Channels() int { return d.s.channels }

// start reads a logical stream's headers, beginning with packet p.
func (d *Decoder) start(p packet) error {
	s := &setup{}
	if err := readIdentification(p.data, s); err != nil {
		return err
	}
	p, err := d.headerPacket("comment")
	if err != nil {
		return err
	}
	if err := checkComment(p.data); err != nil {
		return err
	}
	if p, err = d.headerPacket("setup"); err != nil {
		return err
	}
	if err := readSetup(p.data, s); err != nil {
		return err
	}
	if d.first == nil {
		d.first = s
	} else if s.channels != d.first.channels || s.rate != d.first.rate {
		return unsupportedf("chained stream changes from %d channels at %d Hz to %d channels at %d Hz",
			d.first.channels, d.first.rate, s.channels, s.rate)
	}
	d.s = s
	d.tf = [2]*imdct{newIMDCT(s.blocksize[0]), newIMDCT(s.blocksize[1])}
	for i, n := range s.blocksize {
		d.slope[i] = make([]float32, n/2)
		for j := range d.slope[i] {
			x := math.Sin((float64(j) + 0.5) / float64(n/2) * math.Pi / 2)
			d.slope[i][j] = float32(math.Sin(math.Pi / 2 * x * x))
		}
	}
	ch, long := s.channels, s.blocksize[1]
	d.spectrum = make2(ch, long/2)
	d.pcm = make2(ch, long)
	d.overlap = make2(ch, long/2)
	d.curve = make([]float32, long/2)
	d.floorY = make([][]int, ch)
	d.final = make([]int, s.maxFloorXs)
	d.step2 = make([]bool, s.maxFloorXs)
	d.used = make([]bool, ch)
	d.decode = make([]bool, ch)
	d.prevN = 0
	d.anchored = false
	d.held = 0
	d.pos = 0
	return nil
}

func (d *Decoder) headerPacket(name string) (packet, error) {
	p, err := d.ogg.nextPacket()
	if errors.Is(err, io.EOF) {
		return p, truncatedf("stream ends before the %s header", name)
	}
	if err != nil {
		return p, err
	}
	if p.bos || p.eos {
		return p, corruptf("stream ends before the %s header", name)
	}
	return p, nil
}

func make2(n, m int) [][]float32 {
	all := make([]float32, n*m)
	out := make([][]float32, n)
	for i := range out {
		out[i] = all[i*m : (i+1)*m : (i+1)*m]
	}
	return out
}

// Next returns the next decoded samples, interleaved by channel. The slice
// is valid until the following call. It returns io.EOF after the last
// stream ends.
func (d *Decoder) Next() ([]float32, error) {
	d.out = d.out[:0]
	for {
		p, err := d.ogg.nextPacket()
		if err != nil {
			return nil, err
		}
		if p.bos {
			if err := d.start(p); err != nil {
				return nil, err
			}
			continue
		}
		mark := len(d.out)
		frames, err := d.audioPacket(p.data)
		if err != nil {
			return nil, err
		}
		d.trim(p, mark, frames)
		if len(d.out) > 0 && d.anchored {
			return d.out, nil
		}
	}
}

// trim applies granule positions to the frames just appended at d.out[mark:].
func (d *Decoder) trim(p packet, mark int, frames int) {
	ch := d.s.channels
	if !d.anchored {
		d.held += int64(frames)
		if p.granule < 0 {
			return
		}
		d.anchored = true
		switch {
		case p.eos && p.granule < d.held:
			// The whole stream sits on one page: the granule is its length.
			d.out = d.out[:len(d.out)-int(d.held-p.granule)*ch]
		case !p.eos && p.granule < d.held:
			// A stream that starts mid-way: drop what precedes granule 0.
			drop := int(d.held-p.granule) * ch
			d.out = d.out[:copy(d.out, d.out[drop:])]
		}
		d.pos = p.granule
		return
	}
	d.pos += int64(frames)
	if p.eos && p.granule >= 0 && d.pos > p.granule {
		cut := min(d.pos-p.granule, int64(frames))
		d.out = d.out[:len(d.out)-int(cut)*ch]
		d.pos -= cut
	}
	_ = mark
}

// audioPacket decodes one audio packet (spec section 4.3) and appends its
// finished frames to d.out.
func (d *Decoder) audioPacket(data []byte) (int, error) {
	if len(data) == 0 {
		return 0, nil
	}
	s := d.s
	br := newBitReader(data)
	if br.read1() != 0 {
		return 0, nil // a stray header packet: the spec says to ignore it
	}
	modeNum := int(br.read(s.modeBits))
	if modeNum >= len(s.modes) {
		return 0, corruptf("audio packet uses mode %d of %d", modeNum, len(s.modes))
	}
	md := s.modes[modeNum]
	prevLong, nextLong := false, false
	blk := 0
	if md.long {
		blk = 1
		prevLong, nextLong = br.readFlag(), br.readFlag()
	}
	if br.eop {
		return 0, corruptf("audio packet of %d bytes ends inside its header", len(data))
	}
	n := s.blocksize[blk]
	half := n / 2
	m := s.mappings[md.mapping]

	for c := 0; c < s.channels; c++ {
		f := s.floors[m.submapFloor[m.mux[c]]]
		d.floorY[c], d.used[c] = f.decode(&br, s.codebooks, d.floorY[c])
		d.decode[c] = d.used[c]
		clear(d.spectrum[c][:half])
	}
	for i := range m.magnitude {
		if d.decode[m.magnitude[i]] || d.decode[m.angle[i]] {
			d.decode[m.magnitude[i]], d.decode[m.angle[i]] = true, true
		}
	}
	for sm, ri := range m.submapResidue {
		d.vecs, d.skips = d.vecs[:0], d.skips[:0]
		for c := 0; c < s.channels; c++ {
			if m.mux[c] == sm {
				d.vecs = append(d.vecs, d.spectrum[c][:half])
				d.skips = append(d.skips, !d.decode[c])
			}
		}
		s.residues[ri].decode(&br, s.codebooks, d.vecs, d.skips, half, &d.scratch)
	}
	for i := len(m.magnitude) - 1; i >= 0; i-- {
		uncouple(d.spectrum[m.magnitude[i]][:half], d.spectrum[m.angle[i]][:half])
	}
	for c := 0; c < s.channels; c++ {
		spec := d.spectrum[c][:half]
		if !d.used[c] {
			clear(d.pcm[c][:n]) // a silent channel: skip the transform
			continue
		}
		curve := d.curve[:half]
		s.floors[m.submapFloor[m.mux[c]]].render(d.floorY[c], d.final, d.step2, curve)
		for i := range spec {
			spec[i] *= curve[i]
		}
		d.tf[blk].inverse(spec, d.pcm[c][:n])
		d.window(d.pcm[c][:n], blk, prevLong, nextLong)
	}
	return d.overlapAdd(n), nil
}

// uncouple inverts square polar channel coupling (spec section 4.3.5).
func uncouple(mag, ang []float32) {
	for i, m := range mag {
		a := ang[i]
		var nm, na float32
		switch {
		case m > 0 && a > 0:
			nm, na = m, m-a
		case m > 0:
			nm, na = m+a, m
		case a > 0:
			nm, na = m, m+a
		default:
			nm, na = m-a, m
		}
		mag[i], ang[i] = nm, na
	}
}

// window applies the Vorbis power-complementary window (spec section
// 4.3.1): a long block next to a short one uses the short slope there.
func (d *Decoder) window(x []float32, blk int, prevLong, nextLong bool) {
	n := len(x)
	short := d.s.blocksize[0]
	leftStart, leftN := 0, n/2
	rightStart, rightN := n/2, n/2
	slopeL, slopeR := d.slope[blk], d.slope[blk]
	if blk == 1 && !prevLong {
		leftStart, leftN, slopeL = n/4-short/4, short/2, d.slope[0]
	}
	if blk == 1 && !nextLong {
		rightStart, rightN, slopeR = n*3/4-short/4, short/2, d.slope[0]
	}
	clear(x[:leftStart])
	for i := 0; i < leftN; i++ {
		x[leftStart+i] *= slopeL[i]
	}
	for i := 0; i < rightN; i++ {
		x[rightStart+i] *= slopeR[rightN-1-i]
	}
	clear(x[rightStart+rightN:])
}

// overlapAdd emits the frames from the previous block's centre to this
// block's centre and keeps this block's right half for the next call.
func (d *Decoder) overlapAdd(n int) int {
	ch := d.s.channels
	pn := d.prevN
	d.prevN = n
	if pn == 0 {
		for c := 0; c < ch; c++ {
			copy(d.overlap[c], d.pcm[c][n/2:n])
		}
		return 0
	}
	frames := pn/4 + n/4
	base := len(d.out)
	need := base + frames*ch
	if cap(d.out) < need {
		grown := make([]float32, base, max(need, 2*cap(d.out)))
		copy(grown, d.out)
		d.out = grown
	}
	d.out = d.out[:need]
	shift := n/4 - pn/4 // index into the current block of output frame 0
	for c := 0; c < ch; c++ {
		prev, cur := d.overlap[c][:pn/2], d.pcm[c][:n]
		out := d.out[base+c:]
		for i := 0; i < frames; i++ {
			var v float32
			if i < len(prev) {
				v = prev[i]
			}
			if j := i + shift; j >= 0 {
				v += cur[j]
			}
			out[i*ch] = v
		}
		copy(d.overlap[c], cur[n/2:])
	}
	return frames
}
