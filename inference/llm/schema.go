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
	g := llama.SchemaToGrammar(schema)
	if g == nil {
		return "", fmt.Errorf("%w: json schema: llama.cpp cannot convert it to a grammar", ErrBadRequest)
	}
	parsed := llama.NewGrammar(string(g), nil, nil, nil)
	if parsed == nil {
		return "", fmt.Errorf("%w: json schema: converted grammar does not parse", ErrBadRequest)
	}
	parsed.Free()
	return string(g), nil
}
