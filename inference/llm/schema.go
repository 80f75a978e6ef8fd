package llm

import (
	"fmt"

	"github.com/ollama/ollama/llama"
)

// schemaGrammar converts a JSON schema to a GBNF grammar with llama.cpp's
// converter and checks that llama.cpp can parse the result: the sampler
// dereferences a grammar that failed to parse, so a bad one must never reach
// it.
func schemaGrammar(schema []byte) (string, error) {
	if err := checkSchema(schema); err != nil {
		return "", fmt.Errorf("%w: json schema: %w", ErrBadRequest, err)
	}
	safe, err := jsonSafeSchema(schema)
	if err != nil {
		return "", fmt.Errorf("%w: json schema: %w", ErrBadRequest, err)
	}
	g := llama.SchemaToGrammar(safe)
	if g == nil {
		return "", fmt.Errorf("%w: json schema: llama.cpp cannot convert it to a grammar", ErrBadRequest)
	}
	if err := checkRepetitions(string(g)); err != nil {
		return "", fmt.Errorf("%w: json schema: %w", ErrBadRequest, err)
	}
	parsed := llama.NewGrammar(string(g), nil, nil, nil)
	if parsed == nil {
		return "", fmt.Errorf("%w: json schema: converted grammar does not parse", ErrBadRequest)
	}
	parsed.Free()
	return string(g), nil
}

// maxRepetitions is llama.cpp's grammar parser's limit on a repetition
// count (MAX_REPETITION_THRESHOLD); it refuses larger ones without saying
// which.
const maxRepetitions = 2000

// checkRepetitions finds the {m}, {m,} and {m,n} repetitions of a GBNF
// grammar (outside literals, character classes and comments) and refuses
// what llama.cpp's parser cannot take: a maximum below the minimum, which
// it does not check and expands into ~2^64 rules (the request hangs while
// memory grows: a schema's minLength above its maxLength is enough), and
// counts above its limit, so that the error names them.
func checkRepetitions(g string) error {
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case '#':
			for i < len(g) && g[i] != '\n' {
				i++
			}
		case '"', '[':
			end := byte('"')
			if g[i] == '[' {
				end = ']'
			}
			for i++; i < len(g) && g[i] != end; i++ {
				if g[i] == '\\' {
					i++
				}
			}
		case '{':
			j := i + 1
			num := func() (n int, ok bool) {
				for j < len(g) && g[j] == ' ' {
					j++
				}
				start := j
				for ; j < len(g) && g[j] >= '0' && g[j] <= '9'; j++ {
					if n <= maxRepetitions { // stays above the limit once there
						n = n*10 + int(g[j]-'0')
					}
				}
				ok = j > start
				for j < len(g) && g[j] == ' ' {
					j++
				}
				return n, ok
			}
			lo, ok := num()
			if !ok {
				continue // not a repetition: llama.cpp rejects it itself
			}
			hi, bounded := lo, true
			if j < len(g) && g[j] == ',' {
				j++
				hi, bounded = num()
			}
			switch {
			case lo > maxRepetitions || bounded && hi > maxRepetitions:
				return fmt.Errorf("a length, item count or pattern repetition above %d (llama.cpp's grammar limit)", maxRepetitions)
			case bounded && hi < lo:
				return fmt.Errorf("a repetition of at least %d and at most %d (a minimum above its maximum: minLength/maxLength, minItems/maxItems or a pattern's {m,n})", lo, hi)
			}
		}
	}
	return nil
}
