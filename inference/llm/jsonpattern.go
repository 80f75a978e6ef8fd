package llm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// llama.cpp's converter turns a schema's "pattern" into grammar rules that
// write the matched characters straight into the JSON string, without the
// escaping JSON needs: "." (any character but a line break), a negated
// class or a range such as [ -~] let the model write '"', '\' or a control
// character raw, which ends the string early or makes the output invalid
// JSON. Validation then refuses the output after the whole generation. So
// the patterns are rewritten before conversion to leave those characters
// out; the validator still checks the original pattern, which the
// rewritten one only narrows.

// jsonUnsafe is what a JSON string cannot hold unescaped, as a class body
// (the same set as the converter's own "char" rule).
const jsonUnsafe = `"\\\x7F\x00-\x1F`

// jsonSafeSchema returns schema with every pattern rewritten by
// jsonSafePattern, byte for byte the same elsewhere: property order decides
// the order the grammar writes an object's fields in. Patterns inside
// enum, const, default and examples are values, not schemas, and are left
// alone; a property that is merely named "default" or "pattern" is not.
func jsonSafeSchema(schema []byte) ([]byte, error) {
	type frame struct {
		object  bool
		key     string // the object's current key
		wantKey bool
		names   bool // an object of named schemas (properties, $defs): its keys are not keywords
		literal bool // inside a value that is not a schema
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	var stack []frame
	var out bytes.Buffer
	copied := 0
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if key, ok := tok.(string); ok {
				top.key, top.wantKey = key, false
				continue
			}
		}
		keyword := top != nil && top.object && !top.names // top.key is a schema keyword
		literal := top != nil && (top.literal || keyword && isValueKeyword(top.key))
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				names := t == '{' && keyword && isNamesKeyword(top.key)
				stack = append(stack, frame{object: t == '{', wantKey: t == '{', names: names, literal: literal})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if keyword && top.key == "pattern" && !literal {
				safe, err := jsonSafePattern(t)
				if err != nil {
					return nil, fmt.Errorf("pattern %q: %w", t, err)
				}
				if safe != t {
					start := before + int64(bytes.IndexByte(schema[before:], '"'))
					enc, _ := json.Marshal(safe)
					out.Write(schema[copied:start])
					out.Write(enc)
					copied = int(dec.InputOffset())
				}
			}
		}
		// A value ends: the enclosing object expects its next key.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
	if copied == 0 {
		return schema, nil
	}
	out.Write(schema[copied:])
	return out.Bytes(), nil
}

func isValueKeyword(k string) bool {
	return k == "enum" || k == "const" || k == "default" || k == "examples"
}

func isNamesKeyword(k string) bool {
	return k == "properties" || k == "patternProperties" || k == "$defs" || k == "definitions"
}

// jsonSafePattern rewrites a pattern for llama.cpp's converter so that its
// grammar cannot write a character that JSON requires escaped: "." and
// negated classes exclude them, positive classes lose them, and a pattern
// that needs one (a '"' or '\' outside a class, or a class of nothing
// else) is refused. It walks the pattern as the converter does: classes
// are copied whole, and '\' escapes the character after it.
func jsonSafePattern(p string) (string, error) {
	if len(p) < 2 || p[0] != '^' || p[len(p)-1] != '$' {
		return p, nil // the converter refuses it
	}
	s := p[1 : len(p)-1]
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			// The converter passes an escape through to the grammar, which
			// reads \t, \x09 and the like as the raw character.
			if r, n, ok := classChar(s[i:]); ok && jsonUnsafeRune(r) {
				return "", fmt.Errorf("%q at offset %d: llama.cpp's grammar cannot write it escaped inside a JSON string", s[i:i+n], i+1)
			}
			b.WriteString(s[i : i+2])
			i += 2
		case c == '"' || c < 0x20 || c == 0x7F:
			return "", fmt.Errorf("%q at offset %d: llama.cpp's grammar cannot write it escaped inside a JSON string", c, i+1)
		case c == '.':
			b.WriteString("[^\\x0A\\x0D" + jsonUnsafe + "]")
			i++
		case c == '[':
			end := classEnd(s, i)
			if end == len(s) {
				b.WriteString(s[i:]) // unclosed: the converter refuses it
				i = len(s)
				continue
			}
			class, err := jsonSafeClass(s[i+1 : end])
			if err != nil {
				return "", fmt.Errorf("class [%s]: %w", s[i+1:end], err)
			}
			b.WriteString("[" + class + "]")
			i = end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	b.WriteByte('$')
	return b.String(), nil
}

// jsonSafeClass returns a class body that matches what body matches less
// the characters JSON requires escaped. A body it cannot read is returned
// unchanged, for llama.cpp's grammar parser to refuse.
func jsonSafeClass(body string) (string, error) {
	negated, spans, ok := parseClass(body)
	if !ok {
		return body, nil
	}
	if negated {
		return body + jsonUnsafe, nil
	}
	var b strings.Builder
	for _, sp := range spans {
		for _, part := range subtractUnsafe(sp) {
			b.WriteString(classEscape(part.lo))
			if part.hi > part.lo {
				b.WriteString("-" + classEscape(part.hi))
			}
		}
	}
	if b.Len() == 0 {
		return "", errors.New("matches only characters a JSON string must escape")
	}
	return b.String(), nil
}

func jsonUnsafeRune(r rune) bool { return r < 0x20 || r == '"' || r == '\\' || r == 0x7F }

// subtractUnsafe returns sp without the characters JSON requires escaped.
func subtractUnsafe(sp span) []span {
	var out []span
	lo := sp.lo
	for _, u := range []span{{0, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x7F}} {
		if u.hi < lo || u.lo > sp.hi {
			continue
		}
		if u.lo > lo {
			out = append(out, span{lo, u.lo - 1})
		}
		lo = u.hi + 1
	}
	if lo <= sp.hi {
		out = append(out, span{lo, sp.hi})
	}
	return out
}

// classEscape writes r for a GBNF class: printable ASCII as itself (with
// the class's own metacharacters escaped), everything else as \u or \U.
func classEscape(r rune) string {
	switch {
	case r == ']' || r == '[' || r == '-' || r == '^':
		return `\x` + fmt.Sprintf("%02X", r)
	case r < 0x80 && unicode.IsPrint(r):
		return string(r)
	case r <= 0xFFFF:
		return fmt.Sprintf(`\u%04X`, r)
	}
	return fmt.Sprintf(`\U%08X`, r)
}
