package vorbis

import (
	"bytes"
	"encoding/binary"
)

// mapping is a mapping type 0 (spec section 4.2.4): channel coupling and
// which floor and residue each channel uses.
type mapping struct {
	magnitude, angle []int // coupling steps
	mux              []int // submap of each channel
	submapFloor      []int
	submapResidue    []int
}

type mode struct {
	long    bool
	mapping int
}

// setup is everything the three header packets declare.
type setup struct {
	channels   int
	rate       int
	blocksize  [2]int
	codebooks  []*codebook
	floors     []*floor1
	residues   []*residue
	mappings   []*mapping
	modes      []mode
	modeBits   uint
	maxFloorXs int
}

// readIdentification parses the identification header (spec section 4.2.2).
func readIdentification(p []byte, s *setup) error {
	if len(p) < 30 || !bytes.HasPrefix(p, []byte("\x01vorbis")) {
		return corruptf("identification header: %d bytes, not a Vorbis identification packet", len(p))
	}
	if v := binary.LittleEndian.Uint32(p[7:11]); v != 0 {
		return unsupportedf("identification header: Vorbis version %d", v)
	}
	s.channels = int(p[11])
	rate := binary.LittleEndian.Uint32(p[12:16])
	if s.channels == 0 {
		return corruptf("identification header: zero channels")
	}
	if rate == 0 || rate > 1<<24 {
		return corruptf("identification header: sample rate %d", rate)
	}
	s.rate = int(rate)
	s.blocksize[0] = 1 << (p[28] & 0x0f)
	s.blocksize[1] = 1 << (p[28] >> 4)
	if s.blocksize[0] < 64 || s.blocksize[1] > 8192 || s.blocksize[0] > s.blocksize[1] {
		return corruptf("identification header: block sizes %d and %d", s.blocksize[0], s.blocksize[1])
	}
	if p[29]&1 == 0 {
		return corruptf("identification header: framing bit not set")
	}
	return nil
}

// checkComment validates the comment header's type; its contents (tags)
// are not needed to decode audio.
func checkComment(p []byte) error {
	if !bytes.HasPrefix(p, []byte("\x03vorbis")) {
		return corruptf("second header is not a Vorbis comment header")
	}
	return nil
}

// readSetup parses the setup header (spec section 4.2.4).
func readSetup(p []byte, s *setup) error {
	if !bytes.HasPrefix(p, []byte("\x05vorbis")) {
		return corruptf("third header is not a Vorbis setup header")
	}
	br := newBitReader(p[7:])
	var b budget
	n := int(br.read(8)) + 1
	for i := 0; i < n; i++ {
		c, err := readCodebook(&br, i, &b)
		if err != nil {
			return err
		}
		s.codebooks = append(s.codebooks, c)
	}
	n = int(br.read(6)) + 1
	for i := 0; i < n; i++ {
		if t := br.read(16); t != 0 {
			return corruptf("setup header: time domain transform type %d", t)
		}
	}
	n = int(br.read(6)) + 1
	for i := 0; i < n; i++ {
		switch t := br.read(16); t {
		case 0:
			return unsupportedf("floor type 0 (used only by pre-2001 encoders) is not supported")
		case 1:
			f, err := readFloor1(&br, i, s.codebooks)
			if err != nil {
				return err
			}
			s.floors = append(s.floors, f)
			s.maxFloorXs = max(s.maxFloorXs, len(f.xList))
		default:
			if br.eop {
				return truncatedf("setup header ends before floor %d", i)
			}
			return corruptf("setup header: floor %d has type %d", i, t)
		}
	}
	n = int(br.read(6)) + 1
	for i := 0; i < n; i++ {
		t := int(br.read(16))
		if t > 2 {
			if br.eop {
				return truncatedf("setup header ends before residue %d", i)
			}
			return corruptf("setup header: residue %d has type %d", i, t)
		}
		r, err := readResidue(&br, i, t, s.codebooks)
		if err != nil {
			return err
		}
		s.residues = append(s.residues, r)
	}
	n = int(br.read(6)) + 1
	for i := 0; i < n; i++ {
		m, err := readMapping(&br, i, s)
		if err != nil {
			return err
		}
		s.mappings = append(s.mappings, m)
	}
	n = int(br.read(6)) + 1
	for i := 0; i < n; i++ {
		md := mode{long: br.readFlag()}
		window, transform := br.read(16), br.read(16)
		md.mapping = int(br.read(8))
		if br.eop {
			return truncatedf("setup header ends inside mode %d", i)
		}
		if window != 0 || transform != 0 {
			return corruptf("setup header: mode %d has window type %d and transform type %d", i, window, transform)
		}
		if md.mapping >= len(s.mappings) {
			return corruptf("setup header: mode %d uses mapping %d of %d", i, md.mapping, len(s.mappings))
		}
		s.modes = append(s.modes, md)
	}
	s.modeBits = ilog(len(s.modes) - 1)
	if !br.readFlag() {
		if br.eop {
			return truncatedf("setup header ends before its framing bit")
		}
		return corruptf("setup header: framing bit not set")
	}
	return nil
}

func readMapping(br *bitReader, idx int, s *setup) (*mapping, error) {
	if t := br.read(16); t != 0 {
		if br.eop {
			return nil, truncatedf("setup header ends before mapping %d", idx)
		}
		return nil, corruptf("setup header: mapping %d has type %d", idx, t)
	}
	m := &mapping{mux: make([]int, s.channels)}
	submaps := 1
	if br.readFlag() {
		submaps = int(br.read(4)) + 1
	}
	if br.readFlag() {
		steps := int(br.read(8)) + 1
		bits := ilog(s.channels - 1)
		for i := 0; i < steps; i++ {
			mag, ang := int(br.read(bits)), int(br.read(bits))
			if mag == ang || mag >= s.channels || ang >= s.channels {
				if br.eop {
					return nil, truncatedf("setup header ends inside mapping %d", idx)
				}
				return nil, corruptf("mapping %d: coupling step %d couples channels %d and %d of %d", idx, i, mag, ang, s.channels)
			}
			m.magnitude = append(m.magnitude, mag)
			m.angle = append(m.angle, ang)
		}
	}
	if br.read(2) != 0 {
		return nil, corruptf("mapping %d: reserved field not zero", idx)
	}
	if submaps > 1 {
		for c := range m.mux {
			m.mux[c] = int(br.read(4))
			if m.mux[c] >= submaps {
				return nil, corruptf("mapping %d: channel %d uses submap %d of %d", idx, c, m.mux[c], submaps)
			}
		}
	}
	for i := 0; i < submaps; i++ {
		br.read(8) // unused time configuration
		f, r := int(br.read(8)), int(br.read(8))
		if br.eop {
			return nil, truncatedf("setup header ends inside mapping %d", idx)
		}
		if f >= len(s.floors) || r >= len(s.residues) {
			return nil, corruptf("mapping %d: submap %d uses floor %d of %d and residue %d of %d", idx, i, f, len(s.floors), r, len(s.residues))
		}
		m.submapFloor = append(m.submapFloor, f)
		m.submapResidue = append(m.submapResidue, r)
	}
	return m, nil
}
