package vorbis

import (
	"math"
	"sort"
)

// floor1 is a floor type 1 configuration (spec section 7): a piecewise
// linear spectral envelope in a logarithmic amplitude domain.
type floor1 struct {
	partitionClass []uint8
	classDims      [16]int
	classSubs      [16]uint
	classMaster    [16]int
	subclassBooks  [16][8]int // -1: no book, the value is zero
	multiplier     int
	xList          []int
	sorted         []int // indices of xList in ascending x order
	low, high      []int // the spec's low_neighbor and high_neighbor
}

const maxFloor1Values = 65

func readFloor1(br *bitReader, idx int, books []*codebook) (*floor1, error) {
	f := &floor1{}
	partitions := int(br.read(5))
	f.partitionClass = make([]uint8, partitions)
	maxClass := -1
	for i := range f.partitionClass {
		c := uint8(br.read(4))
		f.partitionClass[i] = c
		maxClass = max(maxClass, int(c))
	}
	for c := 0; c <= maxClass; c++ {
		f.classDims[c] = int(br.read(3)) + 1
		f.classSubs[c] = uint(br.read(2))
		if f.classSubs[c] > 0 {
			f.classMaster[c] = int(br.read(8))
			if f.classMaster[c] >= len(books) {
				return nil, corruptf("floor %d: class %d masterbook %d of %d", idx, c, f.classMaster[c], len(books))
			}
		}
		for j := 0; j < 1<<f.classSubs[c]; j++ {
			book := int(br.read(8)) - 1
			if book >= len(books) {
				return nil, corruptf("floor %d: class %d subclass book %d of %d", idx, c, book, len(books))
			}
			f.subclassBooks[c][j] = book
		}
	}
	f.multiplier = int(br.read(2)) + 1
	rangeBits := uint(br.read(4))
	f.xList = []int{0, 1 << rangeBits}
	for _, c := range f.partitionClass {
		for j := 0; j < f.classDims[c]; j++ {
			if len(f.xList) >= maxFloor1Values {
				return nil, corruptf("floor %d has more than %d points", idx, maxFloor1Values)
			}
			f.xList = append(f.xList, int(br.read(rangeBits)))
		}
	}
	if br.eop {
		return nil, truncatedf("setup header ends inside floor %d", idx)
	}
	seen := make(map[int]bool, len(f.xList))
	for _, x := range f.xList {
		if seen[x] {
			return nil, corruptf("floor %d repeats the x value %d", idx, x)
		}
		seen[x] = true
	}
	n := len(f.xList)
	f.sorted = make([]int, n)
	for i := range f.sorted {
		f.sorted[i] = i
	}
	sort.Slice(f.sorted, func(a, b int) bool { return f.xList[f.sorted[a]] < f.xList[f.sorted[b]] })
	f.low = make([]int, n)
	f.high = make([]int, n)
	for i := 2; i < n; i++ {
		lo, hi := 0, 1
		for j := 0; j < i; j++ {
			x := f.xList[j]
			if x < f.xList[i] && x > f.xList[lo] {
				lo = j
			}
			if x > f.xList[i] && x < f.xList[hi] {
				hi = j
			}
		}
		f.low[i], f.high[i] = lo, hi
	}
	return f, nil
}

var floor1Ranges = [4]int{256, 128, 86, 64}

// decode reads one channel's floor from an audio packet into y and reports
// whether the floor is in use; an unused floor (or one cut short by the end
// of the packet) silences the channel.
func (f *floor1) decode(br *bitReader, books []*codebook, y []int) ([]int, bool) {
	if !br.readFlag() {
		return y, false
	}
	rng := floor1Ranges[f.multiplier-1]
	bits := ilog(rng - 1)
	y = append(y[:0], int(br.read(bits)), int(br.read(bits)))
	for _, class := range f.partitionClass {
		dims := f.classDims[class]
		cbits := f.classSubs[class]
		csub := 1<<cbits - 1
		cval := 0
		if cbits > 0 {
			cval = books[f.classMaster[class]].decodeScalar(br)
			if cval < 0 {
				return y, false
			}
		}
		for j := 0; j < dims; j++ {
			book := f.subclassBooks[class][cval&csub]
			cval >>= cbits
			v := 0
			if book >= 0 {
				v = books[book].decodeScalar(br)
				if v < 0 {
					return y, false
				}
			}
			y = append(y, v)
		}
	}
	if br.eop {
		return y, false
	}
	return y, true
}

// render turns decoded floor values into the floor curve out[0:len(out)]
// (spec section 7.2.4). step2 and final are scratch space.
func (f *floor1) render(y []int, final []int, step2 []bool, out []float32) {
	n := len(f.xList)
	rng := floor1Ranges[f.multiplier-1]
	step2[0], step2[1] = true, true
	final[0], final[1] = y[0], y[1]
	for i := 2; i < n; i++ {
		lo, hi := f.low[i], f.high[i]
		predicted := renderPoint(f.xList[lo], final[lo], f.xList[hi], final[hi], f.xList[i])
		val := y[i]
		highroom := rng - predicted
		lowroom := predicted
		var room int
		if highroom < lowroom {
			room = highroom * 2
		} else {
			room = lowroom * 2
		}
		if val == 0 {
			step2[i] = false
			final[i] = predicted
			continue
		}
		step2[lo], step2[hi], step2[i] = true, true, true
		switch {
		case val >= room && highroom > lowroom:
			final[i] = val - lowroom + predicted
		case val >= room:
			final[i] = predicted - val + highroom - 1
		case val%2 == 1:
			final[i] = predicted - (val+1)/2
		default:
			final[i] = predicted + val/2
		}
	}
	for i := range final[:n] {
		// The spec requires values in range; clamping keeps a bad stream
		// from indexing outside the dB table.
		final[i] = min(max(final[i]*f.multiplier, 0), 255)
	}
	lx, ly := 0, final[f.sorted[0]]
	hx, hy := 0, 0
	for _, i := range f.sorted[1:] {
		if !step2[i] {
			continue
		}
		hx, hy = f.xList[i], final[i]
		renderLine(lx, ly, hx, hy, out)
		lx, ly = hx, hy
	}
	if hx < len(out) {
		renderLine(hx, hy, len(out), hy, out)
	}
}

func renderPoint(x0, y0, x1, y1, x int) int {
	dy := y1 - y0
	adx := x1 - x0
	ady := dy
	if ady < 0 {
		ady = -ady
	}
	off := ady * (x - x0) / adx
	if dy < 0 {
		return y0 - off
	}
	return y0 + off
}

// renderLine draws the integer line of spec section 9.2.7 into out through
// the dB table, clipped to len(out).
func renderLine(x0, y0, x1, y1 int, out []float32) {
	dy := y1 - y0
	adx := x1 - x0
	if adx <= 0 {
		return
	}
	ady := dy
	if ady < 0 {
		ady = -ady
	}
	base := dy / adx
	sy := base + 1
	if dy < 0 {
		sy = base - 1
	}
	absBase := base
	if absBase < 0 {
		absBase = -absBase
	}
	ady -= absBase * adx
	x, y, errAcc := x0, y0, 0
	if x < len(out) {
		out[x] = floor1InverseDB[y]
	}
	end := min(x1, len(out))
	for x = x0 + 1; x < end; x++ {
		errAcc += ady
		if errAcc >= adx {
			errAcc -= adx
			y += sy
		} else {
			y += base
		}
		out[x] = floor1InverseDB[min(max(y, 0), 255)]
	}
}

// floor1InverseDB maps floor values to amplitudes: 256 steps of 140/256 dB
// ending at 0 dB. The spec tabulates these float32 values.
var floor1InverseDB = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(math.Pow(10, float64(i-255)*140/256/20))
	}
	return t
}()
