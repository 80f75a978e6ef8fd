package node

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// FuzzChatRequest decodes fuzzed /v1/chat/completions bodies the way the
// handler does: every body is either a request for the engine or a 400,
// never a panic or another status.
func FuzzChatRequest(f *testing.F) {
	f.Add([]byte(`{"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "seed": 1}`))
	f.Add([]byte(`{"model": "m", "messages": [{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}], "n": 1, "stop": ["x", "y"]}`))
	f.Add([]byte(`{"model": "m", "messages": [{"role": "user", "content": null}], "stop": "s", "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}, "stream": true, "stream_options": {"include_usage": true}}`))
	f.Add([]byte(`{"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}], "max_completion_tokens": -1, "temperature": 1e308, "ignore_eos": true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var cr chatRequest
		if json.Unmarshal(body, &cr) != nil {
			return
		}
		if _, err := cr.toLLM(); err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest {
				t.Fatalf("body %s: error %v is not a 400", body, err)
			}
		}
	})
}
