package llm

import (
	"fmt"
	"math"

	"github.com/ollama/ollama/llama"

	"github.com/outposthq/outpost/inference/llamaext"
)

// A request with a JSON schema is sampled under its grammar. llama.cpp's
// own grammar sampler aborts the process when the grammar allows no
// token at all (an assertion in its final sampling step), which a schema
// can bring about: a pattern that only a token the vocabulary lacks could
// continue (llama.cpp never lets a token whose text starts with NUL match),
// or a state the UTF-8 mask has already closed. So the engine keeps the
// grammar on the Go side, where it can look before sampling: the sampler
// chain runs without a grammar, a token it picks is checked against the
// grammar, and only if the grammar refuses it are all candidates filtered
// and the chain run again on what remains, as llama.cpp's common sampler
// does. If nothing remains the request ends with errGrammarDeadEnd.

var errGrammarDeadEnd = fmt.Errorf("%w: the JSON schema allows nothing the model can write next (a pattern or value its vocabulary cannot produce)", ErrBadRequest)

// newGrammar makes a sequence's grammar over the runner's vocabulary.
func (r *runner) newGrammar(grammar string) *llama.Grammar {
	ids := make([]uint32, len(r.pieces))
	for i := range ids {
		ids[i] = uint32(i)
	}
	eog := make([]int32, len(r.eog))
	for i, t := range r.eog {
		eog[i] = int32(t)
	}
	return llama.NewGrammar(grammar, ids, r.pieces, eog)
}

// grammarSample returns tok if the sequence's grammar accepts it, or else
// a token sampled again from the candidates the grammar accepts; ok is
// false if it accepts none. The accepted token is fed to the grammar.
// Called from the loop goroutine with the step's logits in place.
func (r *runner) grammarSample(s *sequence, tok int) (int, bool) {
	one := []llama.TokenData{{ID: int32(tok)}}
	s.grammar.Apply(one)
	if math.IsInf(float64(one[0].Logit), -1) {
		logits := llamaext.Logits(r.cctx, s.batchIdx, r.vocab)
		cands := r.cands[:0] // reused: the loop goroutine is the only caller
		for id, l := range logits {
			if !math.IsInf(float64(l), -1) {
				cands = append(cands, llama.TokenData{ID: int32(id), Logit: l})
			}
		}
		r.cands = cands
		s.grammar.Apply(cands)
		any := false
		for _, c := range cands {
			if math.IsInf(float64(c.Logit), -1) {
				logits[c.ID] = c.Logit
			} else {
				any = true
			}
		}
		if !any {
			return 0, false
		}
		tok = s.sampler.Sample(r.lctx, s.batchIdx)
	}
	s.grammar.Accept(int32(tok))
	return tok, true
}
