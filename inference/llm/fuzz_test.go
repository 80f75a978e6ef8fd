package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzTextStream splits raw bytes into chunks at fuzzed points: whatever the
// split, emitted text is valid UTF-8, never contains the stop sequence, and
// equals the sanitized bytes before the first stop.
func FuzzTextStream(f *testing.F) {
	f.Add([]byte("hello <|stop|> world"), "<|stop|>", uint8(3))
	f.Add([]byte("caf\xc3\xa9\xff\xe2\x82"), "\xc3\xa9", uint8(1))
	f.Add([]byte("aaaaab"), "aab", uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, stop string, step uint8) {
		if stop == "" || !utf8.ValidString(stop) {
			return
		}
		step = max(step, 1)
		s := &textStream{stops: []string{stop}}
		var got strings.Builder
		stopped := false
		for i := 0; i < len(raw) && !stopped; i += int(step) {
			emit, st := s.write(string(raw[i:min(len(raw), i+int(step))]))
			got.WriteString(emit)
			stopped = st
		}
		if !stopped {
			got.WriteString(s.flush())
		}
		out := got.String()
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 %q", out)
		}
		want := raw
		if i := bytes.Index(raw, []byte(stop)); i >= 0 {
			want = raw[:i]
		}
		// A run of invalid bytes split over chunks becomes one U+FFFD per
		// chunk, so compare with runs of U+FFFD collapsed.
		if collapse(out) != collapse(strings.ToValidUTF8(string(want), "\uFFFD")) {
			t.Fatalf("got %q, want %q (stopped %v)", out, strings.ToValidUTF8(string(want), "\uFFFD"), stopped)
		}
	})
}

func collapse(s string) string {
	for strings.Contains(s, "\uFFFD\uFFFD") {
		s = strings.ReplaceAll(s, "\uFFFD\uFFFD", "\uFFFD")
	}
	return s
}

// FuzzValidateJSON feeds arbitrary schemas and documents: errors are fine,
// panics are not.
func FuzzValidateJSON(f *testing.F) {
	f.Add([]byte(noteSchema), []byte(`{"subjective":"ok","severity":3,"urgent":false,"kind":"visit","codes":[]}`))
	f.Add([]byte(`{"anyOf":[{"type":"string","pattern":"^a+$"},{"enum":[1,[2],{"a":null}]}]}`), []byte(`[2]`))
	f.Add([]byte(`{"items":{"const":{"x":[1,2]}},"minItems":1}`), []byte(`[{"x":[1,2]}]`))
	f.Fuzz(func(t *testing.T, schema, doc []byte) {
		ValidateJSON(json.RawMessage(schema), doc)
		checkSchema(schema)
	})
}

// FuzzSchemaGrammar feeds arbitrary JSON schemas, as API requests can, to
// llama.cpp's converter and grammar parser (C++): a bad schema must come
// back as an error, never crash the process.
func FuzzSchemaGrammar(f *testing.F) {
	f.Add([]byte(noteSchema))
	f.Add([]byte(`{"type":"object","properties":{"a":{"type":"string","pattern":"^[a-z]{2,5}(x|y)*$"}},"required":["a"]}`))
	f.Add([]byte(`{"type":"array","items":{"type":"integer","minimum":-5,"maximum":7},"minItems":2,"maxItems":3}`))
	f.Add([]byte(`{"oneOf":[{"const":"a\u0000b"},{"enum":[1.5e300,null,true]}],"additionalProperties":{"type":"number"}}`))
	f.Add([]byte(`{"type":"string","format":"date-time","minLength":3,"maxLength":2}`))
	f.Add([]byte(`{"properties":{"":{"pattern":"((((("}},"type":["object","null"]}`))
	f.Fuzz(func(t *testing.T, schema []byte) {
		g, err := schemaGrammar(schema)
		if err == nil && g == "" {
			t.Fatalf("schema %q: no grammar and no error", schema)
		}
	})
}

// FuzzSchemaGenerate generates with the grammar of a fuzzed schema on the
// tiny random model: a schema the node accepts must not crash llama.cpp's
// grammar sampler (patterns such as ^(a*)*$ overflowed its stack), and
// what it produces must be UTF-8 and, when the grammar completes, valid
// for the schema.
func FuzzSchemaGenerate(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z](a|b)+c?$"}},"required":["code"]}`))
	f.Add([]byte(`{"type":"array","items":{"type":"integer","minimum":-3,"maximum":300},"maxItems":3}`))
	f.Add([]byte(`{"type":"string","pattern":"^((ab)*c)*$"}`))
	f.Add([]byte(`{"anyOf":[{"type":"string","maxLength":3},{"type":"boolean"},{"enum":["x",null]}]}`))
	f.Add([]byte(`{"type":"object","additionalProperties":{"type":"number"},"maxProperties":2}`))
	e := New(Options{ContextSize: 256, Threads: 1, IdleTimeout: -1})
	f.Cleanup(e.Close)
	f.Fuzz(func(t *testing.T, schema []byte) {
		resp, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 48, Seed: 1, Temperature: 1, JSONSchema: schema}, nil)
		// A schema the engine takes must be one its grammar can satisfy:
		// an output the grammar allowed that validation then refuses is
		// a disagreement between llama.cpp's converter and the validator,
		// which the schema checks should have caught. The exception is
		// oneOf, which the converter generates as anyOf; an output that
		// matches two alternatives is refused, as the schema says.
		if errors.Is(err, ErrInvalidOutput) && !bytes.Contains(schema, []byte("oneOf")) {
			t.Fatalf("schema %s: %v: %q", schema, err, resp.Text)
		}
		if err != nil {
			return
		}
		if !utf8.ValidString(resp.Text) {
			t.Fatalf("schema %s: output %q is not UTF-8", schema, resp.Text)
		}
	})
}

// FuzzPatternGenerate is FuzzSchemaGenerate aimed at "pattern", the part
// of a schema llama.cpp's converter copies most directly into the grammar.
func FuzzPatternGenerate(f *testing.F) {
	for _, p := range []string{`[A-Z]{2}(a|b)+c?`, `\d{3}-[0-9]{2}`, `((ab)*c)*`, `[^"]{1,4}`, `(x|y|z){2,}\.`, `[\u00e9-\u00ff]+`} {
		f.Add(p)
	}
	e := New(Options{ContextSize: 256, Threads: 1, IdleTimeout: -1})
	f.Cleanup(e.Close)
	f.Fuzz(func(t *testing.T, pattern string) {
		schema, err := json.Marshal(map[string]any{"type": "string", "pattern": "^" + pattern + "$"})
		if err != nil {
			return
		}
		resp, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 16, Seed: 1, Temperature: 1, JSONSchema: schema}, nil)
		if errors.Is(err, ErrInvalidOutput) {
			t.Fatalf("pattern %q: the grammar allowed %q, which the validator refuses: %v", pattern, resp.Text, err)
		}
		if err == nil && !utf8.ValidString(resp.Text) {
			t.Fatalf("pattern %q: output %q is not UTF-8", pattern, resp.Text)
		}
	})
}

// FuzzGenerateText sends fuzzed prompts and chat messages (llama.cpp's
// tokenizer and chat template code) through the engine: a request is
// refused or answered, never a crash.
func FuzzGenerateText(f *testing.F) {
	f.Add("The patient reports pain", "system", "Be brief")
	f.Add("<|im_start|>user\n\x01<s></s>[INST]", "user", "caf\u00e9 \U0001F600 \u202e")
	f.Add(strings.Repeat("a ", 300), "assistant", "")
	e := New(Options{ContextSize: 256, Threads: 1, IdleTimeout: -1})
	f.Cleanup(e.Close)
	f.Fuzz(func(t *testing.T, prompt, role, content string) {
		for _, req := range []Request{
			{Model: tinyModel, Prompt: prompt, MaxTokens: 2, Seed: 1},
			{Model: tinyModel, Messages: []Message{{Role: role, Content: content}, {Role: "user", Content: prompt}}, MaxTokens: 2, Seed: 1},
		} {
			resp, err := e.Generate(context.Background(), req, nil)
			if err == nil && !utf8.ValidString(resp.Text) {
				t.Fatalf("output %q is not UTF-8", resp.Text)
			}
		}
	})
}

// FuzzGenerateStop generates with a fuzzed stop sequence, streamed and not,
// and checks the result against the same generation without it: the text
// ends just before the stop's first occurrence (finish "stop") or, if the
// stop never occurs, is the whole text; streamed pieces add up to it.
func FuzzGenerateStop(f *testing.F) {
	f.Add("e", int64(1))
	f.Add("ab", int64(7))
	f.Add(" ", int64(3))
	f.Add("\u00e9", int64(2))
	e := New(Options{ContextSize: 256, Threads: 1, IdleTimeout: -1})
	f.Cleanup(e.Close)
	f.Fuzz(func(t *testing.T, stop string, seed int64) {
		if stop == "" || !utf8.ValidString(stop) || strings.ContainsRune(stop, utf8.RuneError) {
			return
		}
		base := Request{Model: tinyModel, Prompt: "The patient reports", MaxTokens: 24, Temperature: 1, Seed: seed & 0xFFFF}
		full, err := e.Generate(context.Background(), base, nil)
		if err != nil {
			t.Fatal(err)
		}
		req := base
		req.Stop = []string{stop}
		plain, err := e.Generate(context.Background(), req, nil)
		if errors.Is(err, ErrBadRequest) {
			return // a stop sequence the API refuses (too long, ...)
		}
		if err != nil {
			t.Fatal(err)
		}
		var pieces strings.Builder
		streamed, err := e.Generate(context.Background(), req, func(tok Token) error {
			pieces.WriteString(tok.Text)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if streamed.Text != plain.Text || pieces.String() != plain.Text || streamed.FinishReason != plain.FinishReason {
			t.Fatalf("streamed %q (pieces %q, %s) differs from not streamed %q (%s)", streamed.Text, pieces.String(), streamed.FinishReason, plain.Text, plain.FinishReason)
		}
		i := strings.Index(full.Text, stop)
		switch {
		case i >= 0 && (plain.Text != full.Text[:i] || plain.FinishReason != "stop"):
			t.Fatalf("stop %q at %d of %q: got %q (%s)", stop, i, full.Text, plain.Text, plain.FinishReason)
		case i < 0 && (plain.Text != full.Text || plain.FinishReason != full.FinishReason):
			t.Fatalf("stop %q absent from %q (%s): got %q (%s)", stop, full.Text, full.FinishReason, plain.Text, plain.FinishReason)
		}
	})
}
