package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckRepetitions(t *testing.T) {
	tests := []struct {
		grammar string
		want    string // "" for no error
	}{
		{`root ::= "\"" char{0,1000} "\"" space`, ""},
		{`root ::= x{3} y{2,} z{0,2000}`, ""},
		{`root ::= "\"" char{3,2} "\"" space`, "at least 3 and at most 2"},
		{`root ::= ("a"{5,3})`, "at least 5 and at most 3"},
		{`root ::= x{ 7 , 1 }`, "at least 7 and at most 1"},
		{`root ::= x{2001}`, "above 2000"},
		{`root ::= x{0,99999999999999999999999}`, "above 2000"},
		{`root ::= x{2001,}`, "above 2000"},
		// Braces inside literals, classes and comments are not repetitions.
		{`root ::= "{9,1}" [{}9,1] # x{9,1}` + "\n" + `y ::= "\"{9,1}\""`, ""},
		{`root ::= [\]{9,1}]`, ""},
	}
	for _, tc := range tests {
		err := checkRepetitions(tc.grammar)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkRepetitions(%q) = %v, want %q", tc.grammar, err, tc.want)
		}
	}
}

// TestSchemaGrammarRefusesWhatBreaksLlamaCpp: schemas that hang or crash
// llama.cpp's converter or grammar parser are refused before they reach
// it. Found by FuzzSchemaGrammar: the grammar parser spins (allocating
// without end) on a repetition whose maximum is below its minimum, the
// converter's pattern scanner stops advancing at an unopened ']' or '}',
// and a quantifier at the start of a group reads before an empty vector.
func TestSchemaGrammarRefusesWhatBreaksLlamaCpp(t *testing.T) {
	for _, schema := range []string{
		`{"type":"string","minLength":3,"maxLength":2}`,
		`{"type":"array","items":{"type":"integer"},"minItems":4,"maxItems":1}`,
		`{"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]{5,3}$"}}}`,
		`{"type":"string","maxLength":5000}`,
		`{"type":"object","properties":{"a":{"type":"string","pattern":"^[a-z]Z2,5}(G|y)*$"}},"required":["a"]}`,
		`{"type":"string","pattern":"^ab]c$"}`,
		`{"type":"string","pattern":"^*a$"}`,
		`{"type":"string","pattern":"^x(+a)$"}`,
		`{"type":"string","pattern":"^({3}b)$"}`,
		`{"type":"object","properties":{"x":{"type":"string","pattern":"^(a*)*$"}},"required":["x"]}`,
		`{"type":"string","pattern":"^a|{2,}$"}`, // the converter repeats the '|'; the parser refuses it
	} {
		done := make(chan error, 1)
		go func() { _, err := schemaGrammar([]byte(schema)); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("%s: err = %v, want ErrBadRequest", schema, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: still converting after 3 s", schema)
		}
	}
	_, err := schemaGrammar([]byte(`{"type":"object","properties":{"items":{"type":"array","minItems":4,"maxItems":1}}}`))
	if err == nil || !strings.Contains(err.Error(), "minItems 4 is above maxItems 1 at /properties/items") {
		t.Errorf("unsatisfiable item counts: %v", err)
	}
	if _, err := schemaGrammar([]byte(`{"type":"string","minLength":2,"maxLength":2000}`)); err != nil {
		t.Errorf("bounds within the limit: %v", err)
	}
}

// A pattern the validator's regexp package cannot compile would fail every
// output after the whole generation.
func TestSchemaPatternMustCompile(t *testing.T) {
	for _, p := range []string{`^($`, `^(a)\1$`} { // an unclosed group, a backreference
		schema, _ := json.Marshal(map[string]any{"type": "string", "pattern": p})
		_, err := schemaGrammar(schema)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "cannot be checked") {
			t.Errorf("%s: err = %v, want a 400 saying it cannot be checked", p, err)
		}
	}
}

// A required property the schema does not define: llama.cpp's converter
// drops it, so every output would fail validation after generating.
func TestSchemaRequiredMustBeDefined(t *testing.T) {
	for _, tc := range []struct {
		schema string
		ok     bool
	}{
		{`{"properties":{},"required":["0"]}`, false},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a","b"]}`, false},
		{`{"type":"object","required":["a"]}`, false},
		{`{"type":"object","properties":{"n":{"type":"object","properties":{},"required":["x"]}}}`, false},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, true},
		{`{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}},{"type":"object","required":["a"]}]}`, true},
		{`{"type":"object","properties":{"required":{"type":"array"}}}`, true}, // a property named "required"
	} {
		_, err := schemaGrammar([]byte(tc.schema))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.schema, err)
		}
		if !tc.ok && (!errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "is not among the properties")) {
			t.Errorf("%s: err = %v, want a 400 naming the undefined property", tc.schema, err)
		}
	}
}

func TestCheckPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{`^[A-Z]{3}[0-9]{2}$`, true},
		{`^$$`, false},        // an inner anchor: a literal '$' to the converter, an anchor to the validator
		{`^a$|^b$`, false},    // the same, in the common "either whole pattern" spelling
		{`^(x|^y)z$`, false},  // inside a group
		{`^a\$b\^c$`, true},   // escaped: the characters
		{`^[^$^]+$`, true},    // inside a class: the characters
		{`^[0]{0(})$`, false}, // not a count: a literal to Go's regexp, a count to the converter
		{`^a{,3}$`, false},
		{`^a{007}$`, false},
		{`^a{0}b{10,20}$`, true},
		{`^a{2,}b{1,3}c{4}$`, true},
		{`^(a|b)+c?$`, true},
		{`^\d{4}-\d{2}$`, true},
		{`^\}\]$`, true},
		{`^[}\]]x$`, true},
		{`no anchors }`, true}, // the converter refuses it itself
		{`^a)}$`, true},        // the converter stops at the unopened ')'
		{`^a}$`, false},
		{`^[a]]$`, false},
		{`^?$`, false},
		{`^a|(*)$`, false},
		{`^({2})$`, false},
		// Repeating what can match nothing crashed the sampler.
		{`^(a*)*$`, false},
		{`^(a?)+$`, false},
		{`^(a|b*)*$`, false},
		{`^(a*b*){3,}$`, false},
		{`^((ab)*)*$`, false},
		{`^(x|)*$`, false},
		{`^(a*)?*$`, false},
		{`^(a+)*$`, true},
		{`^(a*b)*$`, true},
		{`^(a*){2,5}$`, true},
		{`^((a|b)c?)+$`, true},
		{`^a*b?c{0,3}$`, true},
		// A class that allows nothing left the sampler no token: abort.
		{`^[A-@](a|b)+$`, false},
		{`^[a-zZ-A]$`, false},
		{`^[\uD800-\uDFFF]$`, false},
		{`^[^\x00-\U0010FFFF]$`, false},
		{`^[^\x00-\uD7FF\uE000-\U0010FFFF]$`, false},
		{`^[\x00]$`, false},
		{`^[^\x01-\U0010FFFF]$`, false},
		{`^[^a]$`, true},
		{`^[\x00-\x7F]$`, true},
		{`^[-a][a-]$`, true},
		{`^[^\x00-\uD7FF\uE001-\U0010FFFF]$`, true},
		{`^[\d]$`, true}, // llama.cpp's parser refuses the escape itself
	} {
		if err := checkPattern(tc.pattern); (err == nil) != tc.ok {
			t.Errorf("checkPattern(%q) = %v, want ok %v", tc.pattern, err, tc.ok)
		}
	}
}

// TestGrammarDeadEnd: a grammar that reaches a point where no token of the
// vocabulary fits ends the request with a clear error; llama.cpp's own
// grammar sampler aborted the process there (found by FuzzPatternGenerate
// with the schema pattern ^[\x00]$, which checkPattern now refuses before
// generating: llama.cpp never matches a token whose text starts with NUL).
func TestGrammarDeadEnd(t *testing.T) {
	e := newEngine(t, Options{})
	_, err := e.generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 32, Seed: 1}, `root ::= "a"? [\x00]`, nil)
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "allows nothing the model can write") {
		t.Fatalf("err = %v, want the dead-end error", err)
	}
	// The engine goes on serving.
	if _, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "x", MaxTokens: 4, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
}
