package llm

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTextStream(t *testing.T) {
	tests := []struct {
		name     string
		stops    []string
		chunks   []string
		want     string // all emitted text
		stopped  bool
		maxEarly string // text that must not have been emitted before the last chunk
	}{
		{"plain", nil, []string{"hel", "lo"}, "hello", false, ""},
		{"stop inside a chunk", []string{"END"}, []string{"abcENDxyz"}, "abc", true, ""},
		{"stop across chunks", []string{"<|stop|>"}, []string{"text <|", "sto", "p|> more"}, "text ", true, "<|"},
		{"false stop prefix released", []string{"###"}, []string{"a#", "#b"}, "a##b", false, ""},
		{"earliest of several stops", []string{"yz", "b"}, []string{"abcxyz"}, "a", true, ""},
		{"split UTF-8", nil, []string{"caf\xc3", "\xa9!"}, "café!", false, "\xc3"},
		{"invalid byte replaced", nil, []string{"a\xffb"}, "a\uFFFDb", false, ""},
		{"dangling lead byte at end", nil, []string{"ok\xe2\x82"}, "ok\uFFFD", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &textStream{stops: tc.stops}
			var got strings.Builder
			stopped := false
			for i, c := range tc.chunks {
				emit, st := s.write(c)
				if !utf8.ValidString(emit) {
					t.Fatalf("chunk %d emitted invalid UTF-8 %q", i, emit)
				}
				got.WriteString(emit)
				if i < len(tc.chunks)-1 && tc.maxEarly != "" && strings.Contains(got.String(), tc.maxEarly) {
					t.Fatalf("emitted %q before it was resolved (after chunk %d: %q)", tc.maxEarly, i, got.String())
				}
				if st {
					stopped = true
					break
				}
			}
			if !stopped {
				got.WriteString(s.flush())
			}
			if got.String() != tc.want || stopped != tc.stopped {
				t.Errorf("got %q stopped=%v, want %q stopped=%v", got.String(), stopped, tc.want, tc.stopped)
			}
		})
	}
}
