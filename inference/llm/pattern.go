package llm

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkPatterns checks an object's "pattern" with checkPattern.
func checkPatterns(m map[string]any, path string) error {
	if p, ok := m["pattern"].(string); ok {
		if err := checkPattern(p); err != nil {
			return fmt.Errorf("pattern %q at %s: %w", p, pathOrRoot(path), err)
		}
		// The output is validated with Go's regexp (RE2); a pattern it
		// cannot compile, such as one with lookahead or an unclosed group,
		// would fail every output after the whole generation.
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("pattern %q at %s cannot be checked: %w", p, pathOrRoot(path), err)
		}
	}
	return nil
}

// checkPattern refuses the regular expressions that break llama.cpp. It
// walks the pattern as the schema converter does
// (common/json-schema-to-grammar.cpp, _visit_pattern), which copies groups,
// classes, literals and quantifiers into the grammar nearly as they are,
// and refuses:
//   - a ']' or '}' that no '[' or '{' opened: the converter's scanner stops
//     advancing on it, and the request hangs forever;
//   - a quantifier with nothing before it: the converter reads before the
//     start of an empty vector;
//   - '*', '+' or '{m,}' on something that can match the empty string, as
//     in (a*)* or (a|b?)+: the grammar sampler recurses without end on it
//     and the process dies of a stack overflow;
//   - a character class that matches no character a model can write (one
//     UTF-8 can encode, other than NUL, which llama.cpp never matches), as
//     [z-a] or [\x00]: the grammar then allows no token at all. Generation
//     would end there with an error (grammar.go), but the schema can be
//     refused before anything runs.
//
// A quantifier right after a '|' is repeated as a literal '|' by the
// converter, and llama.cpp's grammar parser refuses the result.
//
// Found by the schema fuzz tests (fuzz_test.go) and by hand; everything
// else the converter either converts or refuses with an error.
func checkPattern(p string) error {
	if len(p) < 2 || p[0] != '^' || p[len(p)-1] != '$' {
		return nil // the converter refuses it with an error
	}
	s := p[1 : len(p)-1]
	nonLiteral := func(c byte) bool { return strings.IndexByte("|.()[]{}*+?", c) >= 0 }
	// One per open group: whether the current alternative's items before
	// the last can all match empty, whether the last can, whether a
	// finished alternative could, and whether the group has any item yet
	// (the converter counts a '|' as one).
	type group struct {
		prefixEmpty, lastEmpty, altEmpty, hasItem, hasLast bool
	}
	item := func(g *group, empty bool) {
		if g.hasLast {
			g.prefixEmpty = g.prefixEmpty && g.lastEmpty
		}
		g.lastEmpty, g.hasLast, g.hasItem = empty, true, true
	}
	canBeEmpty := func(g *group) bool {
		return g.altEmpty || g.prefixEmpty && (!g.hasLast || g.lastEmpty)
	}
	stack := []*group{{prefixEmpty: true}}
	for i := 0; i < len(s); {
		g := stack[len(stack)-1]
		switch c := s[i]; c {
		case '.':
			item(g, false)
			i++
		case '|':
			g.altEmpty = canBeEmpty(g)
			g.prefixEmpty, g.hasLast, g.hasItem = true, false, true
			i++
		case '(':
			stack = append(stack, &group{prefixEmpty: true})
			i++
		case ')':
			if len(stack) == 1 {
				return nil // the converter stops at an unopened ')'
			}
			stack = stack[:len(stack)-1]
			item(stack[len(stack)-1], canBeEmpty(g))
			i++
		case '[':
			start := i
			i = classEnd(s, i)
			if i < len(s) {
				if err := checkClass(s[start+1 : i]); err != nil {
					return fmt.Errorf("class [%s]: %w", s[start+1:i], err)
				}
			}
			item(g, false)
			i++
		case '*', '+', '?', '{':
			if !g.hasItem {
				return fmt.Errorf("%q at offset %d repeats nothing", c, i+1)
			}
			lo, unbounded := 0, c != '?'
			if c == '+' {
				lo = 1
			}
			if c == '{' {
				j := i
				for i < len(s) && s[i] != '}' {
					i++
				}
				in := s[j+1 : min(i, len(s))]
				// Go's regexp, which validates the output, reads anything
				// else ({,3}, {2x}, {007}) as literal text; the converter
				// as a count.
				if i < len(s) && !repetitionCount.MatchString(in) {
					return fmt.Errorf("{%s} at offset %d is not a repetition count ({m}, {m,} or {m,n})", in, j+1)
				}
				lo, unbounded = parseBraces(in)
			}
			i++
			if !g.hasLast {
				continue // after a '|' (see above)
			}
			if unbounded && g.lastEmpty {
				return fmt.Errorf("%q at offset %d repeats something that can match the empty string (llama.cpp's grammar sampler recurses on it without end)", c, i)
			}
			if lo == 0 {
				g.lastEmpty = true
			}
		case ']', '}':
			return fmt.Errorf("%q at offset %d closes nothing (escape it as \\%c)", c, i+1, c)
		default:
			// A run of literal characters, ending where the converter's
			// own loop ends it.
			start := i
			for i < len(s) {
				if s[i] == '\\' && i < len(s)-1 {
					i += 2
				} else if s[i] == '"' {
					i++
				} else if !nonLiteral(s[i]) && (i == len(s)-1 || i == start || s[i+1] == '.' || !nonLiteral(s[i+1])) {
					i++
				} else {
					break
				}
			}
			// The converter copies an inner anchor into the grammar as
			// the character itself, which the regular expression that
			// validates the output reads as an anchor: no output could
			// satisfy both.
			for j := start; j < i; j++ {
				if s[j] == '\\' {
					j++
				} else if s[j] == '^' || s[j] == '$' {
					return fmt.Errorf("%q at offset %d: anchors only work at the start and end of a pattern (escape it as \\%c for the character)", s[j], j+1, s[j])
				}
			}
			item(g, false)
		}
	}
	return nil
}

// repetitionCount is a count Go's regexp reads as one: no leading zeros.
var repetitionCount = regexp.MustCompile(`^(0|[1-9][0-9]*)(,(0|[1-9][0-9]*)?)?$`)

// classEnd returns the index of the ']' that closes the class opened at
// s[i], or len(s) if none does, skipping escaped characters as the
// converter does.
func classEnd(s string, i int) int {
	for i++; i < len(s) && s[i] != ']'; i++ {
		if s[i] == '\\' {
			i++
		}
	}
	return min(i, len(s))
}

// parseBraces reads the inside of a pattern's {m}, {m,} or {m,n} as the
// converter does: the minimum (0 if absent or unreadable) and whether
// there is no maximum.
func parseBraces(in string) (lo int, unbounded bool) {
	a, b, comma := strings.Cut(in, ",")
	lo, _ = strconv.Atoi(a)
	return lo, comma && b == ""
}

// checkClass checks a pattern's character class (the text between '[' and
// ']', which the converter copies into the grammar as it is) the way
// llama.cpp's grammar parser reads it: a range must not run backwards,
// and the class must allow some character that valid UTF-8 can carry. A
// class the grammar parser cannot read is left for it to refuse.
func checkClass(c string) error {
	negated, spans, ok := parseClass(c)
	if !ok {
		return nil
	}
	for _, sp := range spans {
		if sp.hi < sp.lo {
			return fmt.Errorf("range %q-%q runs backwards", sp.lo, sp.hi)
		}
	}
	// Is some code point a model can write (UTF-8 can encode it: not a
	// surrogate, not past U+10FFFF; and not NUL) in the class?
	encodable := func(lo, hi rune) bool {
		lo = max(lo, 1) // llama.cpp's grammar never matches NUL
		return lo <= hi && (lo < 0xD800 || hi > 0xDFFF) && lo <= unicode.MaxRune
	}
	if !negated {
		for _, sp := range spans {
			if encodable(sp.lo, sp.hi) {
				return nil
			}
		}
	} else {
		slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
		next := rune(0) // the lowest code point no span so far covers
		for _, sp := range spans {
			if sp.lo > next && encodable(next, sp.lo-1) {
				return nil
			}
			next = max(next, sp.hi+1)
		}
		if encodable(next, unicode.MaxRune) {
			return nil
		}
	}
	return errors.New("matches no character")
}

// span is a range of code points in a character class.
type span struct{ lo, hi rune }

// parseClass reads a class body (the text between '[' and ']') as
// llama.cpp's grammar parser does; ok is false if the parser could not
// read it. Ranges are returned as written, backwards ones included.
func parseClass(c string) (negated bool, spans []span, ok bool) {
	negated = strings.HasPrefix(c, "^")
	if negated {
		c = c[1:]
	}
	for len(c) > 0 {
		lo, n, ok := classChar(c)
		if !ok {
			return negated, nil, false
		}
		c = c[n:]
		hi := lo
		if len(c) >= 2 && c[0] == '-' {
			if hi, n, ok = classChar(c[1:]); !ok {
				return negated, nil, false
			}
			c = c[1+n:]
		}
		spans = append(spans, span{lo, hi})
	}
	return negated, spans, true
}

// classChar reads one character of a grammar character class: an escape
// (\xHH, \uHHHH, \UHHHHHHHH, \t, \r, \n, \\, \", \[, \]) or one UTF-8
// encoded character. ok is false where llama.cpp's parser would fail.
func classChar(c string) (r rune, n int, ok bool) {
	if c[0] != '\\' {
		r, n = utf8.DecodeRuneInString(c)
		return r, n, r != utf8.RuneError || n > 1
	}
	if len(c) < 2 {
		return 0, 0, false
	}
	hex := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	if d, isHex := hex[c[1]]; isHex {
		if len(c) < 2+d {
			return 0, 0, false
		}
		v, err := strconv.ParseUint(c[2:2+d], 16, 32)
		return rune(v), 2 + d, err == nil
	}
	switch c[1] {
	case 't':
		return '\t', 2, true
	case 'r':
		return '\r', 2, true
	case 'n':
		return '\n', 2, true
	case '\\', '"', '[', ']':
		return rune(c[1]), 2, true
	}
	return 0, 0, false
}
