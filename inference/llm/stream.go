package llm

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// textStream turns raw token bytes into text for the caller. Two things can
// straddle token boundaries and are held back until resolved: a multi-byte
// UTF-8 character split over byte tokens, and the beginning of a stop
// sequence. Bytes that can never form valid UTF-8 become U+FFFD.
type textStream struct {
	stops   []string
	pending []byte
	stopped bool
}

// write adds a token's raw bytes and returns the text that is now safe to
// emit, and whether a stop sequence was found (in which case the text
// before it has been emitted and the rest is dropped).
func (s *textStream) write(b string) (string, bool) {
	if s.stopped {
		return "", true
	}
	s.pending = append(s.pending, b...)
	if i := s.firstStop(); i >= 0 {
		s.stopped = true
		emit := toText(s.pending[:i])
		s.pending = nil
		return emit, true
	}
	hold := max(s.stopPrefixLen(), incompleteRuneLen(s.pending))
	n := len(s.pending) - hold
	emit := toText(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	return emit, false
}

// flush emits what was held back at the end of generation.
func (s *textStream) flush() string {
	emit := toText(s.pending)
	s.pending = nil
	return emit
}

func (s *textStream) firstStop() int {
	first := -1
	for _, st := range s.stops {
		if i := bytes.Index(s.pending, []byte(st)); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	return first
}

// stopPrefixLen is the length of the longest suffix of pending that is a
// proper prefix of some stop sequence.
func (s *textStream) stopPrefixLen() int {
	longest := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(s.pending)); n > longest; n-- {
			if bytes.HasSuffix(s.pending, []byte(st[:n])) {
				longest = n
				break
			}
		}
	}
	return longest
}

// incompleteRuneLen is the length of a trailing multi-byte character that
// has started but not finished.
func incompleteRuneLen(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		j := len(b) - k
		if utf8.RuneStart(b[j]) {
			if !utf8.FullRune(b[j:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

func toText(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }
