package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors that callers map to responses. All are wrapped with detail.
var (
	ErrBadRequest    = errors.New("bad request")          // the request itself is invalid
	ErrModelTooLarge = errors.New("model too large")      // cannot fit in Options.MemoryBudget
	ErrBadModel      = errors.New("unusable model file")  // corrupt or unsupported GGUF
	ErrInvalidOutput = errors.New("invalid model output") // JSON output failed its schema
	ErrClosed        = errors.New("engine closed")
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Request is one generation. Zero values mean: Temperature 0 is greedy
// decoding, TopP 0 or 1 and TopK 0 disable those filters, MaxTokens 0 runs to
// the end of the sequence's context, Seed 0 is a fixed seed (use a negative
// Seed for a random one).
type Request struct {
	Model       string
	Messages    []Message // formatted with the model's chat template
	Prompt      string    // used as is when Messages is empty
	MaxTokens   int
	Temperature float32
	TopP        float32
	TopK        int
	Seed        int64
	Stop        []string        // generation ends before the first of these
	JSONSchema  json.RawMessage // constrain output to JSON valid for this schema
	// IgnoreEOS keeps generating through the model's end-of-generation
	// tokens (they are never sampled) until MaxTokens or a stop sequence,
	// as llama.cpp's --ignore-eos: throughput measurements need every
	// request to run its full length.
	IgnoreEOS bool
}

// Token is a piece of streamed output: whole UTF-8 characters, with text that
// might begin a stop sequence held back until it is known not to.
type Token struct {
	Text string
}

// Response is a finished generation.
type Response struct {
	Text             string
	PromptTokens     int
	CompletionTokens int
	FinishReason     string // "stop" (end of turn, stop sequence, or complete JSON) or "length"
	Timings          Timings
}

// Timings break down where a request's time went.
type Timings struct {
	Load     time.Duration // loading the model, if this request had to
	Queue    time.Duration // waiting for a free sequence slot
	Prompt   time.Duration // prompt processing, up to the first sampled token
	Generate time.Duration // from the first sampled token to the end
}

// Limits on request fields, checked before anything reaches C.
const (
	maxStops      = 16
	maxStopLen    = 256
	maxSchemaSize = 64 << 10
)

func (r *Request) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Model == "":
		return bad("no model")
	case len(r.Messages) == 0 && r.Prompt == "":
		return bad("no messages and no prompt")
	case r.MaxTokens < 0:
		return bad("max_tokens %d is negative", r.MaxTokens)
	case !(r.Temperature >= 0 && r.Temperature <= 100):
		return bad("temperature %g out of range [0, 100]", r.Temperature)
	case !(r.TopP >= 0 && r.TopP <= 1):
		return bad("top_p %g out of range [0, 1]", r.TopP)
	case r.TopK < 0:
		return bad("top_k %d is negative", r.TopK)
	case r.Seed >= 1<<32-1:
		return bad("seed %d out of range", r.Seed)
	case len(r.Stop) > maxStops:
		return bad("%d stop sequences (at most %d)", len(r.Stop), maxStops)
	case len(r.JSONSchema) > maxSchemaSize:
		return bad("json schema of %d bytes (at most %d)", len(r.JSONSchema), maxSchemaSize)
	case r.IgnoreEOS && len(r.JSONSchema) > 0:
		// A finished JSON value allows nothing but the end token.
		return bad("ignore_eos cannot be combined with a json schema")
	}
	for _, s := range r.Stop {
		if s == "" || len(s) > maxStopLen || !utf8.ValidString(s) {
			return bad("stop sequence %q must be 1..%d bytes of UTF-8", s, maxStopLen)
		}
	}
	text := func(what, s string) error {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return bad("%s is not valid UTF-8 text (or contains NUL)", what)
		}
		return nil
	}
	if err := text("prompt", r.Prompt); err != nil {
		return err
	}
	for i, m := range r.Messages {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return bad("message %d: role %q (want system, user or assistant)", i, m.Role)
		}
		if err := text(fmt.Sprintf("message %d", i), m.Content); err != nil {
			return err
		}
	}
	return nil
}
