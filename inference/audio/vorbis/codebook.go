package vorbis

import (
	"math"
)

// Resource caps. libvorbis streams (q -1 to 10, 8 to 48 kHz, 1 to 6
// channels) use at most about 11,000 codebook entries and 61,000 VQ values
// in all; these caps leave 16-20x room while keeping a hostile setup header
// from costing gigabytes and seconds: an "ordered" codebook can declare
// 2^24 entries in a handful of bits.
const (
	maxTotalEntries  = 1 << 18 // Huffman entries across all codebooks
	maxTotalVQFloats = 1 << 20 // precomputed VQ vector elements across all codebooks
)

// budget tracks the caps above while a setup header is read.
type budget struct {
	entries  int
	vqFloats int
}

// codebook is one Huffman code with its optional vector-quantisation table.
type codebook struct {
	dims    int
	entries int

	// The Huffman tree: node 0 is the root; child[n][bit] > 0 is an inner
	// node, < 0 a leaf holding entry -(v+1), 0 an absent branch.
	child [][2]int32
	// single is the entry of a codebook with exactly one used entry, whose
	// code is singleLen zero bits (an extension libvorbis accepts), else -1.
	single    int
	singleLen uint

	// vq holds entries*dims values, row-major, when the book has a lookup
	// table; nil for scalar-only books.
	vq []float32
}

// readCodebook parses one codebook from the setup header (spec section 3.2.1).
func readCodebook(br *bitReader, idx int, b *budget) (*codebook, error) {
	if sync := br.read(24); sync != 0x564342 {
		if br.eop {
			return nil, truncatedf("setup header ends inside codebook %d", idx)
		}
		return nil, corruptf("codebook %d: bad sync pattern %#06x", idx, sync)
	}
	dims := int(br.read(16))
	entries := int(br.read(24))
	if br.eop {
		return nil, truncatedf("setup header ends inside codebook %d", idx)
	}
	if entries == 0 {
		return nil, corruptf("codebook %d has no entries", idx)
	}
	b.entries += entries
	if b.entries > maxTotalEntries {
		return nil, unsupportedf("codebooks declare more than %d entries in total", maxTotalEntries)
	}
	lengths, err := readLengths(br, idx, entries)
	if err != nil {
		return nil, err
	}
	c := &codebook{dims: dims, entries: entries, single: -1}
	if err := c.buildTree(lengths, idx); err != nil {
		return nil, err
	}
	if err := c.readLookup(br, idx, b); err != nil {
		return nil, err
	}
	return c, nil
}

// readLengths reads codeword lengths; 0 marks an unused entry.
func readLengths(br *bitReader, idx, entries int) ([]uint8, error) {
	ordered := br.readFlag()
	if !ordered {
		sparse := br.readFlag()
		// Each entry costs at least one bit (sparse) or five (dense), so the
		// packet's size bounds the allocation.
		minBits := int64(entries) * 5
		if sparse {
			minBits = int64(entries)
		}
		if minBits > br.bitsLeft() {
			return nil, truncatedf("codebook %d declares %d entries but the setup header has %d bits left", idx, entries, br.bitsLeft())
		}
		lengths := make([]uint8, entries)
		for i := range lengths {
			if sparse && !br.readFlag() {
				continue
			}
			lengths[i] = uint8(br.read(5) + 1)
		}
		if br.eop {
			return nil, truncatedf("setup header ends inside the lengths of codebook %d", idx)
		}
		return lengths, nil
	}
	lengths := make([]uint8, entries)
	cur := 0
	length := int(br.read(5)) + 1
	for cur < entries {
		if length > 32 {
			return nil, corruptf("codebook %d: codeword length exceeds 32", idx)
		}
		n := int(br.read(ilog(entries - cur)))
		if br.eop {
			return nil, truncatedf("setup header ends inside the lengths of codebook %d", idx)
		}
		if cur+n > entries {
			return nil, corruptf("codebook %d: ordered lengths overrun %d entries", idx, entries)
		}
		for i := cur; i < cur+n; i++ {
			lengths[i] = uint8(length)
		}
		cur += n
		length++
	}
	return lengths, nil
}

// buildTree assigns codewords as the spec does: entries in order, each taking
// the numerically lowest free codeword of its length. That is the leftmost
// free slot at that depth, which minFree finds without backtracking.
func (c *codebook) buildTree(lengths []uint8, idx int) error {
	used := 0
	last := -1
	for i, l := range lengths {
		if l > 0 {
			used++
			last = i
		}
	}
	if used == 0 {
		return nil // never decodable; decoding it reports end of packet
	}
	if used == 1 {
		c.single = last
		c.singleLen = uint(lengths[last])
		return nil
	}
	const full = math.MaxInt32
	c.child = make([][2]int32, 1, 2*used)
	depth := []int32{0}
	minFree := []int32{0} // shallowest free slot in each subtree; full if none
	path := make([]int32, 0, 33)
	for entry, l8 := range lengths {
		l := int32(l8)
		if l == 0 {
			continue
		}
		node := int32(0)
		path = append(path[:0], 0)
		for depth[node] < l {
			next := int32(-1)
			for bit := 0; bit < 2 && next < 0; bit++ {
				ch := c.child[node][bit]
				switch {
				case ch == 0: // absent: a free slot one level down
					ch = int32(len(c.child))
					c.child = append(c.child, [2]int32{})
					depth = append(depth, depth[node]+1)
					minFree = append(minFree, depth[node]+1)
					c.child[node][bit] = ch
					next = ch
				case ch > 0 && minFree[ch] <= l:
					next = ch
				}
			}
			if next < 0 {
				return corruptf("codebook %d: codeword lengths overfill the Huffman tree", idx)
			}
			node = next
			path = append(path, node)
		}
		if c.child[node] != [2]int32{} {
			return corruptf("codebook %d: codeword lengths overfill the Huffman tree", idx)
		}
		// Make node a leaf: re-point its parent's branch at the entry.
		parent := path[len(path)-2]
		for bit := 0; bit < 2; bit++ {
			if c.child[parent][bit] == node {
				c.child[parent][bit] = -int32(entry) - 1
			}
		}
		minFree[node] = full
		for i := len(path) - 2; i >= 0; i-- {
			n := path[i]
			m := int32(full)
			for bit := 0; bit < 2; bit++ {
				ch := c.child[n][bit]
				switch {
				case ch == 0:
					m = min(m, depth[n]+1)
				case ch > 0:
					m = min(m, minFree[ch])
				}
			}
			minFree[n] = m
		}
	}
	if minFree[0] != full {
		return corruptf("codebook %d: codeword lengths leave the Huffman tree incomplete", idx)
	}
	return nil
}

// readLookup reads the optional VQ table and expands it to one vector per
// entry, so that decoding a vector is a slice (spec section 3.2.1, lookup
// types 1 and 2).
func (c *codebook) readLookup(br *bitReader, idx int, b *budget) error {
	typ := br.read(4)
	if br.eop {
		return truncatedf("setup header ends inside codebook %d", idx)
	}
	switch typ {
	case 0:
		return nil
	case 1, 2:
	default:
		return corruptf("codebook %d: lookup type %d", idx, typ)
	}
	if c.dims == 0 {
		return corruptf("codebook %d: vector lookup with zero dimensions", idx)
	}
	minimum := float32Unpack(br.read(32))
	delta := float32Unpack(br.read(32))
	valueBits := uint(br.read(4)) + 1
	sequenceP := br.readFlag()
	var lookupValues int64
	if typ == 1 {
		lookupValues = int64(lookup1Values(c.entries, c.dims))
	} else {
		lookupValues = int64(c.entries) * int64(c.dims)
	}
	if lookupValues*int64(valueBits) > br.bitsLeft() {
		return truncatedf("codebook %d declares %d lookup values but the setup header has %d bits left", idx, lookupValues, br.bitsLeft())
	}
	floats := int64(c.entries) * int64(c.dims)
	if int64(b.vqFloats)+floats > maxTotalVQFloats {
		return unsupportedf("codebooks declare more than %d vector elements in total", maxTotalVQFloats)
	}
	b.vqFloats += int(floats)
	mult := make([]uint32, lookupValues)
	for i := range mult {
		mult[i] = br.read(valueBits)
	}
	if br.eop {
		return truncatedf("setup header ends inside the lookup table of codebook %d", idx)
	}
	c.vq = make([]float32, floats)
	for e := 0; e < c.entries; e++ {
		row := c.vq[e*c.dims : (e+1)*c.dims]
		last := float32(0)
		if typ == 1 {
			div := 1
			for i := range row {
				off := (e / div) % int(lookupValues)
				v := float32(mult[off])*delta + minimum + last
				row[i] = v
				if sequenceP {
					last = v
				}
				// div never exceeds entries: lookupValues^dims <= entries.
				div *= int(lookupValues)
			}
		} else {
			for i := range row {
				v := float32(mult[e*c.dims+i])*delta + minimum + last
				row[i] = v
				if sequenceP {
					last = v
				}
			}
		}
	}
	return nil
}

// lookup1Values is the largest r with r^dims <= entries.
func lookup1Values(entries, dims int) int {
	r := int(math.Floor(math.Pow(float64(entries), 1/float64(dims))))
	pow := func(r int) int64 { // r^dims, saturating above entries
		p := int64(1)
		for i := 0; i < dims; i++ {
			p *= int64(r)
			if p > int64(entries) {
				return p
			}
		}
		return p
	}
	for r > 0 && pow(r) > int64(entries) {
		r--
	}
	for pow(r+1) <= int64(entries) {
		r++
	}
	return r
}

// float32Unpack decodes the spec's 32-bit float: 21-bit mantissa, 10-bit
// biased exponent, sign bit.
func float32Unpack(x uint32) float32 {
	mantissa := float64(x & 0x1fffff)
	exp := int((x & 0x7fe00000) >> 21)
	if x&0x80000000 != 0 {
		mantissa = -mantissa
	}
	return float32(math.Ldexp(mantissa, exp-788))
}

// decodeScalar reads one codeword and returns its entry, or -1 at the end
// of the packet.
func (c *codebook) decodeScalar(br *bitReader) int {
	if c.single >= 0 {
		br.read(c.singleLen)
		if br.eop {
			return -1
		}
		return c.single
	}
	if c.child == nil {
		br.eop = true
		return -1
	}
	node := int32(0)
	for {
		bit := br.read1()
		if br.eop {
			return -1
		}
		next := c.child[node][bit]
		if next < 0 {
			return int(-next - 1)
		}
		if next == 0 { // unreachable in a complete tree; treat as end of packet
			br.eop = true
			return -1
		}
		node = next
	}
}

// decodeVector reads one codeword and returns its VQ vector, or nil at the
// end of the packet.
func (c *codebook) decodeVector(br *bitReader) []float32 {
	e := c.decodeScalar(br)
	if e < 0 {
		return nil
	}
	return c.vq[e*c.dims : (e+1)*c.dims]
}
