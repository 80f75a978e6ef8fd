package llm

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONSafePattern(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means refused
	}{
		{`^[A-Z][0-9]{2}(\.[0-9]{1,4})?$`, `^[A-Z][0-9]{2}(\.[0-9]{1,4})?$`},
		{`^.{3}$`, `^[^\x0A\x0D"\\\x7F\x00-\x1F]{3}$`},
		{`^[^a,]+$`, `^[^a,"\\\x7F\x00-\x1F]+$`},
		{`^[ -~]+$`, `^[ -!#-\x5B\x5D-~]+$`},
		{`^[a-c\t"]$`, `^[a-c]$`},
		{`^[é-ü]$`, `^[\u00E9-\u00FC]$`},
		{`^a"b$`, ""},
		{`^a\"b$`, ""},
		{`^a\\b$`, ""},
		{`^a\tb$`, ""},
		{`^a\x09b$`, ""},
		{"^a\tb$", ""},
		{`^[""]$`, ""},
		{`^[\x01-\x1F]$`, ""},
		{`^\d\.\($`, `^\d\.\($`},
	} {
		got, err := jsonSafePattern(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: rewritten to %s, want it refused", tc.in, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// jsonSafeSchema changes pattern values and nothing else: the grammar
// writes an object's fields in the schema's order.
func TestJSONSafeSchemaKeepsTheRest(t *testing.T) {
	in := `{"type":"object", "properties": {"z": {"type":"string","pattern":"^.$"},
	  "a": {"enum": [{"pattern":"^.$"}]}, "pattern": {"type":"string", "pattern": "^[^x]$"},
	  "default": {"type":"string","pattern":"^.$","default":{"pattern":"^.$"}}}}`
	dot := `"^[^\\x0A\\x0D\"\\\\\\x7F\\x00-\\x1F]$"`
	want := `{"type":"object", "properties": {"z": {"type":"string","pattern":` + dot + `},
	  "a": {"enum": [{"pattern":"^.$"}]}, "pattern": {"type":"string", "pattern": "^[^x\"\\\\\\x7F\\x00-\\x1F]$"},
	  "default": {"type":"string","pattern":` + dot + `,"default":{"pattern":"^.$"}}}}`
	got, err := jsonSafeSchema([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v\nwant %s", got, err, want)
	}
	if got, _ := jsonSafeSchema([]byte(`{"type":"string"}`)); string(got) != `{"type":"string"}` {
		t.Errorf("a schema without patterns changed: %s", got)
	}
}

// A pattern whose characters include '"' must still give JSON that
// validates: the rewritten grammar leaves the quote out.
func TestPatternOutputIsJSON(t *testing.T) {
	e := newEngine(t, Options{})
	schema := json.RawMessage(`{"type":"object","properties":{"code":{"type":"string","pattern":"^[!-#]{6}\\.{2}$"}},"required":["code"]}`)
	for seed := range int64(4) {
		resp, err := e.Generate(context.Background(), Request{Model: tinyModel, Prompt: "code:", MaxTokens: 64, Temperature: 1, Seed: seed, JSONSchema: schema}, nil)
		if err != nil {
			t.Fatalf("seed %d: %v (output %q)", seed, err, resp.Text)
		}
		var v struct{ Code string }
		if err := json.Unmarshal([]byte(resp.Text), &v); err != nil || strings.ContainsAny(v.Code, `"\`) {
			t.Fatalf("seed %d: %q: %v", seed, resp.Text, err)
		}
	}
}
