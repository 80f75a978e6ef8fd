package vorbis

// bitReader reads a Vorbis packet LSB-first, as the spec packs it. Reading
// past the end sets eop and yields zeros: the spec gives end-of-packet its
// own meaning (an unused floor, a short residue), so it is a state the
// caller checks, not an error.
type bitReader struct {
	data []byte
	pos  int  // next byte
	bit  uint // bits of data[pos] already consumed
	eop  bool
}

func newBitReader(data []byte) bitReader { return bitReader{data: data} }

// read returns the next n bits (n <= 32), the first bit in the lowest place.
func (b *bitReader) read(n uint) uint32 {
	var v uint64
	var got uint
	for got < n {
		if b.pos >= len(b.data) {
			b.eop = true
			return 0
		}
		take := 8 - b.bit
		if take > n-got {
			take = n - got
		}
		chunk := (uint64(b.data[b.pos]) >> b.bit) & (1<<take - 1)
		v |= chunk << got
		got += take
		b.bit += take
		if b.bit == 8 {
			b.bit = 0
			b.pos++
		}
	}
	return uint32(v)
}

func (b *bitReader) read1() uint32 {
	if b.pos >= len(b.data) {
		b.eop = true
		return 0
	}
	v := uint32(b.data[b.pos]>>b.bit) & 1
	b.bit++
	if b.bit == 8 {
		b.bit = 0
		b.pos++
	}
	return v
}

func (b *bitReader) readFlag() bool { return b.read1() == 1 }

// bitsLeft is how many unread bits remain; allocation sizes are checked
// against it so that a header field cannot ask for more than the packet holds.
func (b *bitReader) bitsLeft() int64 {
	if b.pos >= len(b.data) {
		return 0
	}
	return int64(len(b.data)-b.pos)*8 - int64(b.bit)
}

// ilog is the spec's ilog: the position of the highest set bit, ilog(0) = 0.
func ilog(x int) uint {
	n := uint(0)
	for x > 0 {
		n++
		x >>= 1
	}
	return n
}
