package llm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ollama/ollama/llama"
)

// Generate runs one request to completion, calling onToken (if not nil) with
// text as it is produced. If onToken returns an error, generation stops and
// Generate returns that error. Cancelling ctx stops generation and frees the
// request's sequence.
func (e *Engine) Generate(ctx context.Context, req Request, onToken func(Token) error) (Response, error) {
	if err := req.validate(); err != nil {
		return Response{}, err
	}
	var grammar string
	if len(req.JSONSchema) > 0 {
		var err error
		if grammar, err = schemaGrammar(req.JSONSchema); err != nil {
			return Response{}, err
		}
	}
	return e.generate(ctx, req, grammar, onToken)
}

// generate is Generate with the request's grammar (GBNF, "" for none).
func (e *Engine) generate(ctx context.Context, req Request, grammar string, onToken func(Token) error) (Response, error) {
	r, loadTime, err := e.acquire(ctx, req.Model)
	if err != nil {
		return Response{}, err
	}
	defer e.release(r)

	if req.IgnoreEOS && r.cctx == nil {
		return Response{}, errors.New("ignore_eos is unavailable: this build cannot reach the model's logits (see the log)")
	}
	prompt, err := r.promptTokens(req)
	if err != nil {
		return Response{}, err
	}
	maxTokens := r.ctxSize - len(prompt)
	if req.MaxTokens > 0 {
		maxTokens = min(maxTokens, req.MaxTokens)
	}
	seed := uint32(req.Seed)
	if req.Seed < 0 {
		seed = 0xFFFFFFFF // llama.cpp's LLAMA_DEFAULT_SEED: random
	}
	topP := req.TopP
	if topP == 0 {
		topP = 1
	}
	// The grammar runs on the Go side when the runner can reach the logits
	// (grammar.go); otherwise in llama.cpp's sampler, as before.
	var goGrammar *llama.Grammar
	if grammar != "" && r.cctx != nil {
		if goGrammar = r.newGrammar(grammar); goGrammar == nil {
			return Response{}, fmt.Errorf("%w: json schema: llama.cpp could not load its grammar", ErrBadRequest)
		}
		// Free is safe while the loop still holds the sequence: it
		// locks the grammar, and a freed one does nothing.
		defer goGrammar.Free()
		grammar = ""
	}
	sampler, err := llama.NewSamplingContext(r.model, llama.SamplingParams{
		TopK:          req.TopK,
		TopP:          topP,
		MinP:          0,
		TypicalP:      1, // anything below 1 makes llama.cpp's chain silently greedy
		Temp:          req.Temperature,
		RepeatLastN:   64,
		PenaltyRepeat: 1,
		Seed:          seed,
		Grammar:       grammar,
	})
	if err != nil {
		return Response{}, fmt.Errorf("sampler: %w", err)
	}

	seq := &sequence{
		prompt: prompt, maxTokens: maxTokens, sampler: sampler, ignoreEOS: req.IgnoreEOS, grammar: goGrammar,
		streaming: onToken != nil, text: textStream{stops: req.Stop},
		submitted: time.Now(), notify: make(chan struct{}, 1),
	}
	if err := r.enqueue(seq); err != nil {
		return Response{}, err
	}
	resp := Response{PromptTokens: len(prompt)}
	var text strings.Builder
	for {
		select {
		case <-seq.notify:
		case <-ctx.Done():
			seq.cancelled.Store(true)
			return Response{}, ctx.Err()
		}
		out, finished, finish, ferr := seq.take()
		text.WriteString(out)
		if out != "" && onToken != nil {
			if err := onToken(Token{Text: out}); err != nil {
				seq.cancelled.Store(true)
				return Response{}, err
			}
		}
		if err := ctx.Err(); err != nil {
			seq.cancelled.Store(true)
			return Response{}, err
		}
		if !finished {
			continue
		}
		if ferr != nil {
			if errors.Is(ferr, errCancelled) && ctx.Err() != nil {
				return Response{}, ctx.Err()
			}
			return Response{}, ferr
		}
		seq.mu.Lock()
		resp.CompletionTokens = seq.generated
		resp.Timings = Timings{
			Load:     loadTime,
			Queue:    seq.admitted.Sub(seq.submitted),
			Prompt:   seq.first.Sub(seq.admitted),
			Generate: time.Since(seq.first),
		}
		seq.mu.Unlock()
		resp.Text = text.String()
		resp.FinishReason = finish
		if len(req.JSONSchema) > 0 && finish == "stop" {
			if err := ValidateJSON(req.JSONSchema, []byte(resp.Text)); err != nil {
				return resp, fmt.Errorf("%w: %w", ErrInvalidOutput, err)
			}
		}
		return resp, nil
	}
}

// promptTokens formats and tokenizes the request and checks it fits.
func (r *runner) promptTokens(req Request) ([]int, error) {
	text := req.Prompt
	if len(req.Messages) > 0 {
		text = r.formatChat(req.Messages)
	}
	toks, err := r.model.Tokenize(text, true, true)
	if err != nil {
		return nil, fmt.Errorf("%w: tokenize: %w", ErrBadRequest, err)
	}
	// Templates that spell out the BOS token get a second one from
	// add-special; one is what the model was trained with.
	if r.meta.hasBOS && len(toks) >= 2 && toks[0] == r.meta.bos && toks[1] == r.meta.bos {
		toks = toks[1:]
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: prompt is empty after tokenization", ErrBadRequest)
	}
	vocab := r.model.NumVocab()
	for _, t := range toks {
		if t < 0 || t >= vocab {
			return nil, fmt.Errorf("%w: tokenizer produced token %d outside the vocabulary", ErrBadModel, t)
		}
	}
	if len(toks) >= r.ctxSize {
		return nil, fmt.Errorf("%w: prompt is %d tokens, context is %d per request", ErrBadRequest, len(toks), r.ctxSize)
	}
	return toks, nil
}
