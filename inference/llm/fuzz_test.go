package llm

import (
	"bytes"
	"encoding/json"
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
			emit, st := s.write(raw[i:min(len(raw), i+int(step))])
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
