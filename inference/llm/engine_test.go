package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/gguf"
	"github.com/outposthq/outpost/inference/randllama"
)

// tinyModel is a random-weight llama model generated once per test binary.
var tinyModel string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "llm-test-")
	if err != nil {
		panic(err)
	}
	cfg, _ := randllama.Preset("tiny")
	cfg.Seed = 7
	tinyModel = filepath.Join(dir, "tiny.gguf")
	if err := randllama.WriteFile(tinyModel, cfg); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	if opts.ContextSize == 0 {
		opts.ContextSize = 512
	}
	if opts.Threads == 0 {
		opts.Threads = 1 // no spin-wait barriers to suffer on a busy CI machine
	}
	e := New(opts)
	t.Cleanup(e.Close)
	return e
}

func TestGenerateStreams(t *testing.T) {
	e := newEngine(t, Options{})
	ctx := context.Background()
	var streamed strings.Builder
	req := Request{Model: tinyModel, Prompt: "The patient reports pain", MaxTokens: 24, Temperature: 0.8, Seed: 42}
	resp, err := e.Generate(ctx, req, func(tok Token) error {
		if !utf8.ValidString(tok.Text) {
			t.Errorf("streamed invalid UTF-8 %q", tok.Text)
		}
		streamed.WriteString(tok.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "length" && resp.FinishReason != "stop" {
		t.Errorf("FinishReason = %q", resp.FinishReason)
	}
	if resp.FinishReason == "length" && resp.CompletionTokens != 24 {
		t.Errorf("CompletionTokens = %d, want 24", resp.CompletionTokens)
	}
	if resp.PromptTokens < 3 {
		t.Errorf("PromptTokens = %d", resp.PromptTokens)
	}
	if streamed.String() != resp.Text {
		t.Errorf("streamed %q, response text %q", streamed.String(), resp.Text)
	}
	if !utf8.ValidString(resp.Text) || resp.Text == "" {
		t.Errorf("text %q", resp.Text)
	}
	// Same seed, same output; the model stays loaded.
	again, err := e.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Text != resp.Text {
		t.Errorf("same seed gave %q then %q", resp.Text, again.Text)
	}
	if again.Timings.Load != 0 {
		t.Errorf("second request loaded the model again (%v)", again.Timings.Load)
	}
	if got := e.Loaded(); len(got) != 1 || got[0].Name != tinyModel || got[0].Active != 0 {
		t.Errorf("Loaded() = %+v", got)
	}
}

func TestChatMessages(t *testing.T) {
	e := newEngine(t, Options{})
	resp, err := e.Generate(context.Background(), Request{
		Model:     tinyModel,
		Messages:  []Message{{"system", "You write notes."}, {"user", "hello world"}},
		MaxTokens: 8,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// ChatML markers are single control tokens in the tiny model, not 12
	// characters each.
	msgs := []Message{{"system", "You write notes."}, {"user", "hello world"}}
	if text := chatML(msgs); resp.PromptTokens == 0 || resp.PromptTokens > len(text)-4*11 {
		t.Errorf("PromptTokens = %d for %d bytes of template", resp.PromptTokens, len(text))
	}
}

func TestStopSequence(t *testing.T) {
	e := newEngine(t, Options{})
	ctx := context.Background()
	req := Request{Model: tinyModel, Prompt: "abc", MaxTokens: 60, Temperature: 1, Seed: 3}
	full, err := e.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	runes := []rune(full.Text)
	if len(runes) < 12 {
		t.Fatalf("output too short to pick a stop sequence: %q", full.Text)
	}
	stop := string(runes[8:11])
	want := full.Text[:strings.Index(full.Text, stop)]
	req.Stop = []string{"never appears \u2603", stop}
	var streamed strings.Builder
	got, err := e.Generate(ctx, req, func(tok Token) error { streamed.WriteString(tok.Text); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != want || got.FinishReason != "stop" {
		t.Errorf("with stop %q: got %q (%s), want %q (stop)", stop, got.Text, got.FinishReason, want)
	}
	if strings.Contains(streamed.String(), stop) || streamed.String() != want {
		t.Errorf("streamed %q, want %q", streamed.String(), want)
	}
}

const noteSchema = `{
  "type": "object",
  "properties": {
    "subjective": {"type": "string", "maxLength": 12},
    "severity": {"type": "integer", "minimum": 0, "maximum": 10},
    "urgent": {"type": "boolean"},
    "kind": {"enum": ["visit", "call", "referral"]},
    "codes": {"type": "array", "items": {"type": "string", "maxLength": 5}, "maxItems": 2}
  },
  "required": ["subjective", "severity", "urgent", "kind", "codes"],
  "additionalProperties": false
}`

func TestJSONSchemaOutput(t *testing.T) {
	e := newEngine(t, Options{})
	for seed := range int64(10) {
		resp, err := e.Generate(context.Background(), Request{
			Model: tinyModel, Prompt: "Write the note as JSON:", MaxTokens: 400,
			Temperature: 1, Seed: seed, JSONSchema: json.RawMessage(noteSchema),
		}, nil)
		if err != nil {
			t.Fatalf("seed %d: %v (text %q)", seed, err, resp.Text)
		}
		if resp.FinishReason != "stop" {
			t.Fatalf("seed %d: finish %q after %d tokens: %q", seed, resp.FinishReason, resp.CompletionTokens, resp.Text)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(resp.Text), &v); err != nil {
			t.Fatalf("seed %d: output does not parse: %v: %q", seed, err, resp.Text)
		}
		if err := ValidateJSON(json.RawMessage(noteSchema), []byte(resp.Text)); err != nil {
			t.Fatalf("seed %d: %v: %q", seed, err, resp.Text)
		}
	}
}

// TestJSONSchemaOutputIsValidated checks the result against the schema, not
// only the grammar: llama.cpp's converter turns oneOf into anyOf, so with two
// alternatives that every integer matches, the grammar yields integers that
// the schema refuses.
func TestJSONSchemaOutputIsValidated(t *testing.T) {
	e := newEngine(t, Options{})
	schema := json.RawMessage(`{"type":"object","properties":{"n":{"oneOf":[{"type":"integer"},{"type":"integer","minimum":-1e9}]}},"required":["n"]}`)
	for seed := range int64(3) {
		resp, err := e.Generate(context.Background(), Request{
			Model: tinyModel, Prompt: "n:", MaxTokens: 200, Temperature: 1, Seed: seed, JSONSchema: schema,
		}, nil)
		if resp.FinishReason != "stop" && err == nil {
			t.Fatalf("seed %d: finish %q, want the grammar to run to its end: %q", seed, resp.FinishReason, resp.Text)
		}
		if !errors.Is(err, ErrInvalidOutput) {
			t.Fatalf("seed %d: err %v for %q, want ErrInvalidOutput (an integer matches both alternatives of oneOf)", seed, err, resp.Text)
		}
	}
}

// TestConcurrentRequestsShareModel holds every request's first token until
// all four have produced one: a model served one request at a time would
// never get there.
func TestConcurrentRequestsShareModel(t *testing.T) {
	const n = 4
	e := newEngine(t, Options{Parallel: n})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var barrier sync.WaitGroup
	barrier.Add(n)
	all := make(chan struct{})
	go func() { barrier.Wait(); close(all) }()
	var wg sync.WaitGroup
	errs := make([]error, n)
	resps := make([]Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			resps[i], errs[i] = e.Generate(ctx, Request{
				Model: tinyModel, Prompt: fmt.Sprintf("request %d", i), MaxTokens: 16 + i, Temperature: 1, Seed: int64(i),
			}, func(Token) error {
				if first {
					first = false
					barrier.Done()
					select {
					case <-all:
					case <-ctx.Done():
						return errors.New("requests did not run concurrently")
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if r := resps[i]; r.FinishReason == "length" && r.CompletionTokens != 16+i {
			t.Errorf("request %d: %d tokens, want %d", i, r.CompletionTokens, 16+i)
		}
	}
	if got := e.Loaded(); len(got) != 1 {
		t.Errorf("%d models loaded, want 1 shared", len(got))
	}
}

func TestQueueBeyondParallel(t *testing.T) {
	e := newEngine(t, Options{Parallel: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "q", MaxTokens: 5, Seed: int64(i)}, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestCancelFreesSequence(t *testing.T) {
	e := newEngine(t, Options{Parallel: 1})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := e.Generate(ctx, Request{Model: tinyModel, Prompt: "long", MaxTokens: 400, Temperature: 1}, func(Token) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The only slot must be free again.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if _, err := e.Generate(ctx2, Request{Model: tinyModel, Prompt: "next", MaxTokens: 4}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestCancelSchemaRequests cancels requests whose grammar the loop is
// still using: Generate frees the grammar as it returns (grammar.go).
func TestCancelSchemaRequests(t *testing.T) {
	e := newEngine(t, Options{Parallel: 2})
	schema := json.RawMessage(`{"type":"object","properties":{"notes":{"type":"string","maxLength":400}},"required":["notes"]}`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			_, err := e.Generate(ctx, Request{Model: tinyModel, Prompt: "x", MaxTokens: 300, Temperature: 1, Seed: int64(i), JSONSchema: schema}, func(Token) error {
				if n++; n == 1+i%3 {
					cancel()
				}
				return nil
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("request %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if _, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "next", MaxTokens: 8, JSONSchema: schema}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	e := newEngine(t, Options{})
	boom := errors.New("client went away")
	_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 50}, func(Token) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestModelTooLargeForBudget(t *testing.T) {
	e := newEngine(t, Options{MemoryBudget: 1 << 20})
	_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x"}, nil)
	if !errors.Is(err, ErrModelTooLarge) {
		t.Fatalf("err = %v, want ErrModelTooLarge", err)
	}
	if !strings.Contains(err.Error(), "memory budget is 1.0 MiB") {
		t.Errorf("error does not explain the budget: %v", err)
	}
	if len(e.Loaded()) != 0 {
		t.Error("a refused model was loaded")
	}
}

func TestEvictsIdleModelForAnother(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	data, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a, data, 0o644)
	os.WriteFile(b, data, 0o644)
	meta, err := readMeta(a)
	if err != nil {
		t.Fatal(err)
	}
	one := meta.memoryEstimate(512, 4, 512)
	e := newEngine(t, Options{MemoryBudget: one + one/2})
	for _, m := range []string{a, b} {
		if _, err := e.Generate(context.Background(), Request{Model: m, Prompt: "x", MaxTokens: 2}, nil); err != nil {
			t.Fatal(err)
		}
		if got := e.Loaded(); len(got) != 1 || got[0].Name != m {
			t.Fatalf("after %s: Loaded() = %+v", filepath.Base(m), got)
		}
	}
}

func TestIdleUnloadAndExplicitUnload(t *testing.T) {
	e := newEngine(t, Options{IdleTimeout: 20 * time.Millisecond})
	if _, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 2}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(e.Loaded()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle model was not unloaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e2 := newEngine(t, Options{IdleTimeout: -1})
	if _, err := e2.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 2}, nil); err != nil {
		t.Fatal(err)
	}
	e2.Unload(tinyModel)
	if n := len(e2.Loaded()); n != 0 {
		t.Fatalf("%d models loaded after Unload", n)
	}
	if _, err := e2.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 2}, nil); err != nil {
		t.Fatalf("reload after Unload: %v", err)
	}
}

func TestCorruptModelRejected(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"truncated.gguf": data[:len(data)/2],
		"text.gguf":      []byte("this is not a model\n"),
		"header.gguf":    data[:200],
	}
	e := newEngine(t, Options{})
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := e.Generate(context.Background(), Request{Model: p, Prompt: "x"}, nil)
		if !errors.Is(err, ErrBadModel) || !errors.Is(err, gguf.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrBadModel wrapping gguf.ErrCorrupt", name, err)
		}
	}
	_, err = e.Generate(context.Background(), Request{Model: filepath.Join(dir, "missing.gguf"), Prompt: "x"}, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEngine(t, Options{ContextSize: 64})
	long := strings.Repeat("word ", 200)
	tests := []struct {
		name string
		req  Request
	}{
		{"no model", Request{Prompt: "x"}},
		{"no prompt", Request{Model: tinyModel}},
		{"bad role", Request{Model: tinyModel, Messages: []Message{{"robot", "x"}}}},
		{"NUL in content", Request{Model: tinyModel, Messages: []Message{{"user", "a\x00b"}}}},
		{"invalid UTF-8", Request{Model: tinyModel, Prompt: "\xff"}},
		{"negative max tokens", Request{Model: tinyModel, Prompt: "x", MaxTokens: -1}},
		{"top_p above 1", Request{Model: tinyModel, Prompt: "x", TopP: 1.5}},
		{"empty stop", Request{Model: tinyModel, Prompt: "x", Stop: []string{""}}},
		{"schema not JSON", Request{Model: tinyModel, Prompt: "x", JSONSchema: json.RawMessage(`{`)}},
		{"schema not object", Request{Model: tinyModel, Prompt: "x", JSONSchema: json.RawMessage(`[1]`)}},
		{"schema with $ref", Request{Model: tinyModel, Prompt: "x", JSONSchema: json.RawMessage(`{"$ref":"#/x"}`)}},
		{"schema nested too deep", Request{Model: tinyModel, Prompt: "x", JSONSchema: json.RawMessage(
			strings.Repeat(`{"type":"array","items":`, 40) + `{"type":"string"}` + strings.Repeat(`}`, 40))}},
		{"prompt longer than context", Request{Model: tinyModel, Prompt: long}},
		{"ignore_eos with schema", Request{Model: tinyModel, Prompt: "x", IgnoreEOS: true, JSONSchema: json.RawMessage(`{"type":"object"}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Generate(context.Background(), tc.req, nil); !errors.Is(err, ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

// TestIgnoreEOS finds requests that the random model ends early with its
// end token, then checks that the same requests with IgnoreEOS run to
// MaxTokens.
func TestIgnoreEOS(t *testing.T) {
	e := newEngine(t, Options{})
	ctx := context.Background()
	const maxTokens = 200
	// A hot temperature over the tiny vocabulary makes the end token likely
	// within a few hundred tokens.
	req := Request{Model: tinyModel, Prompt: "The patient", MaxTokens: maxTokens, Temperature: 50}
	var ended []int64
	for seed := int64(1); seed <= 40 && len(ended) < 3; seed++ {
		req.Seed = seed
		resp, err := e.Generate(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.FinishReason == "stop" && resp.CompletionTokens < maxTokens {
			ended = append(ended, seed)
		}
	}
	if len(ended) == 0 {
		t.Fatal("no seed ended early: the test cannot tell whether IgnoreEOS works")
	}
	req.IgnoreEOS = true
	for _, seed := range ended {
		req.Seed = seed
		resp, err := e.Generate(ctx, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.CompletionTokens != maxTokens || resp.FinishReason != "length" {
			t.Errorf("seed %d with IgnoreEOS: %d tokens, finish %q; want %d, length", seed, resp.CompletionTokens, resp.FinishReason, maxTokens)
		}
	}
}

func TestClosedEngine(t *testing.T) {
	e := New(Options{ContextSize: 256, Threads: 1})
	e.Close()
	if _, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x"}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestCloseDuringGeneration(t *testing.T) {
	e := New(Options{ContextSize: 512, Threads: 1})
	closed := make(chan struct{})
	_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 400, Temperature: 1}, func(Token) error {
		select {
		case <-closed:
		default:
			go func() { e.Close(); close(closed) }()
			<-closed
		}
		return nil
	})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if n := len(e.Loaded()); n != 0 {
		t.Errorf("%d models loaded after Close", n)
	}
}

// TestExclusiveSlot checks that decoding waits for the shared CPU slot and
// that a runner waiting for it still stops on Close.
func TestExclusiveSlot(t *testing.T) {
	slot := cpuslot.New()
	var steps atomic.Int64
	e := New(Options{ContextSize: 256, Threads: 1, Exclusive: func(ctx context.Context) (func(), error) {
		release, err := slot.Acquire(ctx)
		if err == nil {
			steps.Add(1)
		}
		return release, err
	}})
	resp, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 8, Temperature: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// One step for the prompt, one per further token.
	if got, want := steps.Load(), int64(resp.CompletionTokens); got < want {
		t.Errorf("%d decode steps held the slot for %d tokens", got, want)
	}

	// Another computation holds the slot: the request makes no progress
	// until it is released.
	hold, err := slot.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := steps.Load()
	got := make(chan error, 1)
	go func() {
		_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "y", MaxTokens: 4, Temperature: 1}, nil)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("generated while the slot was held (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	if steps.Load() != before {
		t.Fatal("a decode step ran while the slot was held")
	}
	hold()
	if err := <-got; err != nil {
		t.Fatal(err)
	}

	// Close while a request waits for the held slot.
	hold, _ = slot.Acquire(context.Background())
	defer hold()
	go func() {
		_, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "z", MaxTokens: 4}, nil)
		got <- err
	}()
	for len(e.Loaded()) == 0 || e.Loaded()[0].Active == 0 {
		time.Sleep(time.Millisecond)
	}
	e.Close()
	if err := <-got; !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestMaskEOG(t *testing.T) {
	inf := float32(math.Inf(-1))
	r := &runner{eog: []int{2}, isEOG: []bool{false, false, true, false}}
	tests := []struct {
		name     string
		in, want []float32
	}{
		{"end token masked", []float32{0.5, inf, 3, 1}, []float32{0.5, inf, inf, 1}},
		{"only the end token left: kept", []float32{inf, inf, 3, inf}, []float32{inf, inf, 3, inf}},
	}
	for _, tc := range tests {
		r.maskEOG(tc.in)
		if !slices.Equal(tc.in, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.in, tc.want)
		}
	}
}
