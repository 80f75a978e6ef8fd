package crdt

// splice replaces del runes at pos (an index into the old text) with ins.
type splice struct {
	pos, del int
	ins      []rune
}

// maxDiffCost bounds the Myers search: past this many edits the middle of
// the text is replaced as one splice. Large rewrites lose nothing by it;
// only concurrent edits inside the rewritten span stop merging by character.
const maxDiffCost = 2048

// diffText returns the splices, in ascending position order, that turn a
// into b. It trims the common prefix and suffix, then runs Myers' O(ND)
// shortest edit script on what is left, so that an edit in two places of a
// note becomes two small splices and a concurrent edit elsewhere survives.
func diffText(a, b []rune) []splice {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	a, b = a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	if len(a) == 0 || len(b) == 0 {
		return []splice{{pos: pre, del: len(a), ins: b}}
	}
	ops, ok := myers(a, b)
	if !ok {
		return []splice{{pos: pre, del: len(a), ins: b}}
	}
	// Group runs of deletes and inserts between matches into splices.
	var out []splice
	i, j := 0, 0
	for k := 0; k < len(ops); {
		if ops[k] == opEqual {
			i++
			j++
			k++
			continue
		}
		s := splice{pos: pre + i}
		for k < len(ops) && ops[k] != opEqual {
			if ops[k] == opDelete {
				s.del++
				i++
			} else {
				s.ins = append(s.ins, b[j])
				j++
			}
			k++
		}
		out = append(out, s)
	}
	return out
}

type editOp uint8

const (
	opEqual editOp = iota
	opDelete
	opInsert
)

// myers computes a shortest edit script from a to b, or reports false when
// it would cost more than maxDiffCost edits.
func myers(a, b []rune) ([]editOp, bool) {
	n, m := len(a), len(b)
	maxD := n + m
	if maxD > maxDiffCost {
		maxD = maxDiffCost
	}
	off := maxD + 1
	v := make([]int, 2*maxD+3)
	var trace [][]int
	found := -1
	for d := 0; d <= maxD && found < 0; d++ {
		snap := make([]int, len(v))
		copy(snap, v)
		trace = append(trace, snap)
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				found = d
				break
			}
		}
	}
	if found < 0 {
		return nil, false
	}
	// Walk the trace backwards to recover the path.
	ops := make([]editOp, 0, n+m)
	x, y := n, m
	for d := found; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vd[off+k-1] < vd[off+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			ops = append(ops, opEqual)
			x--
			y--
		}
		if x == prevX {
			ops = append(ops, opInsert)
		} else {
			ops = append(ops, opDelete)
		}
		x, y = prevX, prevY
	}
	for x > 0 && y > 0 {
		ops = append(ops, opEqual)
		x--
		y--
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops, true
}
