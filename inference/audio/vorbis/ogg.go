package vorbis

import (
	"bytes"
	"encoding/binary"
	"io"
)

// Ogg page header flags.
const (
	flagContinued = 0x01
	flagBOS       = 0x02
	flagEOS       = 0x04
)

const pageHeaderSize = 27

// packet is one Vorbis packet with the page facts the decoder needs for
// granule-position trimming.
type packet struct {
	data []byte
	// granule is the page's granule position when this packet is the last
	// one completed on its page, else -1.
	granule int64
	// eos marks the last packet of a logical stream.
	eos bool
	// bos marks the first packet of a logical stream (chained streams start
	// over with new headers).
	bos bool
}

// oggReader splits an Ogg bitstream into the packets of one Vorbis logical
// stream. Pages of other multiplexed streams are skipped; after a stream's
// end-of-stream page the next chained Vorbis stream is picked up.
type oggReader struct {
	r      io.Reader
	offset int64 // input bytes consumed, for error messages

	header [pageHeaderSize + 255]byte
	body   []byte

	serial  uint32
	active  bool // a Vorbis stream is selected and has not ended
	ended   bool // at least one selected stream has ended
	nextSeq uint32
	partial []byte   // packet continued onto the next page
	pending []packet // packets completed on the last page, not yet returned
	newBOS  bool     // the next packet returned starts a logical stream
	pages   int      // pages read
	seen    string   // a non-Vorbis codec met before any Vorbis stream
}

func newOggReader(r io.Reader) *oggReader { return &oggReader{r: r} }

// page is a parsed Ogg page; body and lacing alias the reader's buffers
// until the next readPage.
type page struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	lacing  []byte
	body    []byte
	offset  int64
}

// readPage reads and CRC-checks the next page. It returns io.EOF only when
// the input ends exactly at a page boundary.
func (o *oggReader) readPage() (page, error) {
	start := o.offset
	h := o.header[:pageHeaderSize]
	n, err := io.ReadFull(o.r, h)
	o.offset += int64(n)
	if err != nil {
		if err == io.EOF {
			return page{}, io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			return page{}, truncatedf("ogg: page header at byte %d: have %d of %d bytes", start, n, pageHeaderSize)
		}
		return page{}, err
	}
	if !bytes.Equal(h[:4], []byte("OggS")) {
		return page{}, corruptf("ogg: no page capture pattern at byte %d (found %q)", start, h[:4])
	}
	if h[4] != 0 {
		return page{}, unsupportedf("ogg: page version %d at byte %d", h[4], start)
	}
	p := page{
		flags:   h[5],
		granule: int64(binary.LittleEndian.Uint64(h[6:14])),
		serial:  binary.LittleEndian.Uint32(h[14:18]),
		seq:     binary.LittleEndian.Uint32(h[18:22]),
		offset:  start,
	}
	wantCRC := binary.LittleEndian.Uint32(h[22:26])
	nseg := int(h[26])
	lacing := o.header[pageHeaderSize : pageHeaderSize+nseg]
	n, err = io.ReadFull(o.r, lacing)
	o.offset += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return page{}, truncatedf("ogg: lacing table of page at byte %d: have %d of %d bytes", start, n, nseg)
		}
		return page{}, err
	}
	size := 0
	for _, l := range lacing {
		size += int(l)
	}
	if cap(o.body) < size {
		o.body = make([]byte, size, 255*255) // a page body never exceeds 255*255 bytes
	}
	body := o.body[:size]
	n, err = io.ReadFull(o.r, body)
	o.offset += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return page{}, truncatedf("ogg: body of page at byte %d: have %d of %d bytes", start, n, size)
		}
		return page{}, err
	}
	// The CRC covers the header with its CRC field zeroed, the lacing table
	// and the body.
	var zero [4]byte
	crc := crcUpdate(0, h[:22])
	crc = crcUpdate(crc, zero[:])
	crc = crcUpdate(crc, h[26:27])
	crc = crcUpdate(crc, lacing)
	crc = crcUpdate(crc, body)
	if crc != wantCRC {
		return page{}, corruptf("ogg: checksum mismatch in page at byte %d", start)
	}
	p.lacing = lacing
	p.body = body
	return p, nil
}

// nextPacket returns the next packet of the selected Vorbis stream, or
// io.EOF after the last stream's end-of-stream page and the end of input.
func (o *oggReader) nextPacket() (packet, error) {
	for len(o.pending) == 0 {
		if err := o.fill(); err != nil {
			return packet{}, err
		}
	}
	p := o.pending[0]
	o.pending = o.pending[1:]
	return p, nil
}

// fill reads pages until at least one packet of the selected stream is
// complete.
func (o *oggReader) fill() error {
	p, err := o.readPage()
	if err == io.EOF {
		if o.active {
			return truncatedf("ogg: input ends at byte %d before the end-of-stream page", o.offset)
		}
		if !o.ended {
			if o.seen != "" {
				return unsupportedf("ogg: no Vorbis stream (found %s)", o.seen)
			}
			return truncatedf("ogg: input ends at byte %d before any Vorbis stream", o.offset)
		}
		return io.EOF
	}
	if err != nil {
		return err
	}
	o.pages++
	if !o.active {
		if p.flags&flagBOS == 0 {
			if o.ended {
				return nil // trailing pages of another stream
			}
			if o.pages == 1 {
				return corruptf("ogg: first page does not begin a stream")
			}
			if o.seen != "" {
				return unsupportedf("ogg: no Vorbis stream (found %s)", o.seen)
			}
			return unsupportedf("ogg: no Vorbis stream among the first %d pages", o.pages-1)
		}
		first := firstPacket(p)
		if !bytes.HasPrefix(first, []byte("\x01vorbis")) {
			if o.seen == "" {
				o.seen = codecName(first)
			}
			return nil
		}
		o.active = true
		o.serial = p.serial
		o.nextSeq = p.seq
		o.partial = o.partial[:0]
		o.newBOS = true
	}
	if p.serial != o.serial {
		return nil
	}
	if p.seq != o.nextSeq {
		return corruptf("ogg: page sequence gap before page at byte %d: want %d, got %d", p.offset, o.nextSeq, p.seq)
	}
	o.nextSeq++
	if p.flags&flagContinued == 0 && len(o.partial) > 0 {
		return corruptf("ogg: page at byte %d drops a packet continued from the previous page", p.offset)
	}
	if p.flags&flagContinued != 0 && len(o.partial) == 0 && o.newBOS {
		return corruptf("ogg: first page of a stream at byte %d continues a packet", p.offset)
	}
	last := -1
	pos := 0
	for _, l := range p.lacing {
		o.partial = append(o.partial, p.body[pos:pos+int(l)]...)
		pos += int(l)
		if l < 255 {
			data := make([]byte, len(o.partial))
			copy(data, o.partial)
			o.partial = o.partial[:0]
			o.pending = append(o.pending, packet{data: data, granule: -1, bos: o.newBOS})
			o.newBOS = false
			last = len(o.pending) - 1
		}
	}
	if last >= 0 {
		o.pending[last].granule = p.granule
	}
	if p.flags&flagEOS != 0 {
		if len(o.partial) > 0 {
			return truncatedf("ogg: end-of-stream page at byte %d ends inside a packet", p.offset)
		}
		if last >= 0 {
			o.pending[last].eos = true
		} else {
			// An end-of-stream page without packets still ends the stream.
			o.pending = append(o.pending, packet{granule: p.granule, eos: true})
		}
		o.active = false
		o.ended = true
	}
	return nil
}

// firstPacket returns the first packet's bytes on a page when the page
// begins one (up to the first lacing value below 255).
func firstPacket(p page) []byte {
	if p.flags&flagContinued != 0 {
		return nil
	}
	n := 0
	for _, l := range p.lacing {
		n += int(l)
		if l < 255 {
			break
		}
	}
	return p.body[:n]
}

// codecName names well-known non-Vorbis Ogg codecs for a clearer error.
func codecName(first []byte) string {
	switch {
	case bytes.HasPrefix(first, []byte("OpusHead")):
		return "Opus"
	case bytes.HasPrefix(first, []byte("\x7fFLAC")):
		return "FLAC"
	case bytes.HasPrefix(first, []byte("Speex   ")):
		return "Speex"
	case bytes.HasPrefix(first, []byte("\x80theora")):
		return "Theora video"
	}
	return "an unknown codec"
}

// crcTable is Ogg's CRC-32: polynomial 0x04c11db7, MSB-first, zero initial
// value and no final inversion, unlike hash/crc32's reflected IEEE variant.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for j := 0; j < 8; j++ {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func crcUpdate(crc uint32, p []byte) uint32 {
	for _, b := range p {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^b]
	}
	return crc
}
