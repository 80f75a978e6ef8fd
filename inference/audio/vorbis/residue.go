package vorbis

// residue is a residue configuration of type 0, 1 or 2 (spec section 8):
// the spectral fine structure, vector-quantised in partitions whose
// codebooks are chosen by a per-partition classification.
type residue struct {
	typ             int
	begin, end      int
	partitionSize   int
	classifications int
	classbook       int
	books           [][8]int // [class][pass]; -1: nothing coded in this pass
}

func readResidue(br *bitReader, idx, typ int, books []*codebook) (*residue, error) {
	r := &residue{
		typ:             typ,
		begin:           int(br.read(24)),
		end:             int(br.read(24)),
		partitionSize:   int(br.read(24)) + 1,
		classifications: int(br.read(6)) + 1,
		classbook:       int(br.read(8)),
	}
	if r.classbook >= len(books) {
		return nil, corruptf("residue %d: classbook %d of %d", idx, r.classbook, len(books))
	}
	if books[r.classbook].dims == 0 {
		return nil, corruptf("residue %d: classbook %d has zero dimensions", idx, r.classbook)
	}
	cascade := make([]uint32, r.classifications)
	for i := range cascade {
		low := br.read(3)
		var high uint32
		if br.readFlag() {
			high = br.read(5)
		}
		cascade[i] = high<<3 | low
	}
	r.books = make([][8]int, r.classifications)
	for i := range r.books {
		for j := 0; j < 8; j++ {
			r.books[i][j] = -1
			if cascade[i]&(1<<j) == 0 {
				continue
			}
			b := int(br.read(8))
			if b >= len(books) {
				return nil, corruptf("residue %d: book %d of %d", idx, b, len(books))
			}
			if books[b].vq == nil {
				return nil, corruptf("residue %d: book %d has no vector lookup table", idx, b)
			}
			r.books[i][j] = b
		}
	}
	if br.eop {
		return nil, truncatedf("setup header ends inside residue %d", idx)
	}
	return r, nil
}

// decode adds the residue of the vectors in v (one per channel of the
// submap, each n values long) to v. skip marks channels whose floor is
// unused. scratch is reused between packets and returned grown.
func (r *residue) decode(br *bitReader, books []*codebook, v [][]float32, skip []bool, n int, s *residueScratch) {
	if r.typ == 2 {
		decodeAny := false
		for _, sk := range skip {
			decodeAny = decodeAny || !sk
		}
		if !decodeAny {
			return
		}
		ch := len(v)
		s.interleaved = growFloats(s.interleaved, n*ch)
		clear(s.interleaved)
		r.decodeVectors(br, books, [][]float32{s.interleaved}, []bool{false}, n*ch, 1, s)
		for i, x := range s.interleaved {
			v[i%ch][i/ch] += x
		}
		return
	}
	r.decodeVectors(br, books, v, skip, n, r.typ, s)
}

// residueScratch is per-decoder working memory for residue decoding.
type residueScratch struct {
	interleaved []float32
	classes     [][]int
}

func growFloats(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// decodeVectors is the common format 0/1 decode of spec section 8.6.2; a
// type 2 residue arrives here as one interleaved vector in format 1.
func (r *residue) decodeVectors(br *bitReader, books []*codebook, v [][]float32, skip []bool, n, format int, s *residueScratch) {
	limitBegin := min(r.begin, n)
	limitEnd := min(r.end, n)
	if limitEnd <= limitBegin {
		return
	}
	psize := r.partitionSize
	partitions := (limitEnd - limitBegin) / psize
	if partitions == 0 {
		return
	}
	classbook := books[r.classbook]
	perWord := classbook.dims
	for len(s.classes) < len(v) {
		s.classes = append(s.classes, nil)
	}
	for j := range v {
		if cap(s.classes[j]) < partitions+perWord {
			s.classes[j] = make([]int, partitions+perWord)
		}
		s.classes[j] = s.classes[j][:partitions+perWord]
	}
	for pass := 0; pass < 8; pass++ {
		for p := 0; p < partitions; {
			if pass == 0 {
				for j := range v {
					if skip[j] {
						continue
					}
					temp := classbook.decodeScalar(br)
					if temp < 0 {
						return
					}
					for i := perWord - 1; i >= 0; i-- {
						s.classes[j][p+i] = temp % r.classifications
						temp /= r.classifications
					}
				}
			}
			for i := 0; i < perWord && p < partitions; i++ {
				for j := range v {
					if skip[j] {
						continue
					}
					book := r.books[s.classes[j][p]][pass]
					if book < 0 {
						continue
					}
					off := limitBegin + p*psize
					if !decodePartition(br, books[book], v[j][off:off+psize], format) {
						return
					}
				}
				p++
			}
		}
	}
}

// decodePartition adds one partition's VQ vectors to out; false means the
// packet ended.
func decodePartition(br *bitReader, book *codebook, out []float32, format int) bool {
	dims := book.dims
	if format == 0 {
		step := len(out) / dims
		for i := 0; i < step; i++ {
			vec := book.decodeVector(br)
			if vec == nil {
				return false
			}
			for j, x := range vec {
				out[i+j*step] += x
			}
		}
		return true
	}
	for i := 0; i < len(out); {
		vec := book.decodeVector(br)
		if vec == nil {
			return false
		}
		for _, x := range vec {
			if i >= len(out) {
				break
			}
			out[i] += x
			i++
		}
	}
	return true
}
