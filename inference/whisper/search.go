package whisper

import (
	"math"
	"slices"
	"sort"
)

// searcher picks the next token of every sequence of a group, as
// openai/whisper's TokenDecoder does.
type searcher interface {
	// prepare does the per-row work that needs no other row (called
	// concurrently for the rows of a group).
	prepare(logits []float32, info *rowInfo)
	// update appends one token to each sequence, adding its log
	// probability to sum. It returns the new sequences, the index of the
	// sequence each continues (nil when each continues itself), and
	// whether decoding is complete.
	update(tokens [][]int, logits [][]float32, infos []rowInfo, sum []float64) (next [][]int, src []int, done bool)
	// finalize returns the candidate sequences (each ending with EOT) and
	// their summed log probabilities.
	finalize(tokens [][]int, sum []float64) ([][]int, []float64)
}

// rowInfo carries one row's precomputed values from prepare to update.
type rowInfo struct {
	lse  float64 // log-sum-exp of the filtered logits
	u    float64 // uniform random number for sampling
	pick int     // sampler: the chosen token
	top  []int   // beam search: the best continuations
}

// sampler is GreedyDecoder: argmax at temperature 0, else sampling from
// softmax(logits/temperature); finished sequences repeat EOT.
type sampler struct {
	temperature float64
	eot         int
}

func (s *sampler) prepare(row []float32, info *rowInfo) {
	if s.temperature == 0 {
		info.pick = argmax(row)
	} else {
		info.pick = s.sample(row, info.u)
	}
}

func (s *sampler) update(tokens [][]int, logits [][]float32, infos []rowInfo, sum []float64) ([][]int, []int, bool) {
	done := true
	for i, row := range logits {
		next := infos[i].pick
		seq := tokens[i]
		if seq[len(seq)-1] == s.eot {
			next = s.eot
		} else {
			sum[i] += float64(row[next]) - infos[i].lse
		}
		tokens[i] = append(seq, next)
		done = done && next == s.eot
	}
	return tokens, nil, done
}

// sample draws from softmax(row / temperature), u being uniform in [0, 1).
func (s *sampler) sample(row []float32, u float64) int {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = max(mx, float64(v))
	}
	var total float64
	p := make([]float64, len(row))
	for i, v := range row {
		p[i] = math.Exp((float64(v) - mx) / s.temperature)
		total += p[i]
	}
	r := u * total
	for i, w := range p {
		if r < w {
			return i
		}
		r -= w
	}
	return argmax(row)
}

func (s *sampler) finalize(tokens [][]int, sum []float64) ([][]int, []float64) {
	out := make([][]int, len(tokens))
	for i, t := range tokens {
		out[i] = append(slices.Clone(t), s.eot)
	}
	return out, slices.Clone(sum)
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// beamSearch is BeamSearchDecoder for one audio: it keeps the beamSize
// likeliest unfinished sequences and collects finished ones until
// round(beamSize·patience) are found.
type beamSearch struct {
	beamSize, maxCandidates, eot int
	finished                     []candidate // in insertion order
}

type candidate struct {
	tokens []int
	score  float64
}

func newBeamSearch(beamSize int, patience float64, eot int) *beamSearch {
	if patience <= 0 {
		patience = 1
	}
	return &beamSearch{beamSize: beamSize, maxCandidates: max(1, int(math.Round(float64(beamSize)*patience))), eot: eot}
}

func (b *beamSearch) prepare(row []float32, info *rowInfo) {
	info.top = topK(row, b.beamSize+1)
}

func (b *beamSearch) update(tokens [][]int, logits [][]float32, infos []rowInfo, sum []float64) ([][]int, []int, bool) {
	// Step 1: every beam's top beamSize+1 continuations. Identical
	// sequences (the beams start equal) count once, keeping the first
	// position and the last source, like the reference's dict.
	var cands []candidate
	var srcs []int
	index := map[string]int{}
	for j, row := range logits {
		for _, tok := range infos[j].top {
			seq := append(slices.Clone(tokens[j]), tok)
			c := candidate{seq, sum[j] + float64(row[tok]) - infos[j].lse}
			key := seqKey(seq)
			if at, ok := index[key]; ok {
				cands[at], srcs[at] = c, j
				continue
			}
			index[key] = len(cands)
			cands = append(cands, c)
			srcs = append(srcs, j)
		}
	}
	// Step 2: keep the best beamSize unfinished sequences.
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return cands[order[x]].score > cands[order[y]].score })
	var next [][]int
	var src []int
	var newlyFinished []candidate
	for _, i := range order {
		c := cands[i]
		if c.tokens[len(c.tokens)-1] == b.eot {
			newlyFinished = append(newlyFinished, c)
			continue
		}
		sum[len(next)] = c.score
		next = append(next, c.tokens)
		src = append(src, srcs[i])
		if len(next) == b.beamSize {
			break
		}
	}
	for _, c := range newlyFinished { // already sorted by score
		if len(b.finished) >= b.maxCandidates {
			break
		}
		b.finished = append(b.finished, c)
	}
	return next, src, len(b.finished) >= b.maxCandidates
}

func (b *beamSearch) finalize(tokens [][]int, sum []float64) ([][]int, []float64) {
	if len(b.finished) < b.beamSize {
		order := make([]int, len(tokens))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(x, y int) bool { return sum[order[x]] > sum[order[y]] })
		seen := map[string]bool{}
		for _, c := range b.finished {
			seen[seqKey(c.tokens)] = true
		}
		for _, j := range order {
			seq := append(slices.Clone(tokens[j]), b.eot)
			if !seen[seqKey(seq)] {
				seen[seqKey(seq)] = true
				b.finished = append(b.finished, candidate{seq, sum[j]})
			}
			if len(b.finished) >= b.beamSize {
				break
			}
		}
	}
	var out [][]int
	var scores []float64
	for _, c := range b.finished {
		out = append(out, c.tokens)
		scores = append(scores, c.score)
	}
	return out, scores
}

// topK returns the indices of the k largest values, largest first.
func topK(row []float32, k int) []int {
	idx := make([]int, 0, k+1)
	for i, v := range row {
		if len(idx) == k && v <= row[idx[k-1]] {
			continue
		}
		at := sort.Search(len(idx), func(j int) bool { return row[idx[j]] < v })
		idx = slices.Insert(idx, at, i)
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}

func seqKey(seq []int) string {
	b := make([]byte, 0, 3*len(seq))
	for _, t := range seq {
		b = append(b, byte(t), byte(t>>8), byte(t>>16))
	}
	return string(b)
}

// rank is MaximumLikelihoodRanker without a length penalty: the highest
// log probability per token wins, the first on ties.
func rank(cands [][]int, scores []float64) int {
	best, bestScore := 0, math.Inf(-1)
	for i, c := range cands {
		s := scores[i] / float64(max(1, len(c)))
		if s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}
