package node

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/randllama"
)

// tinyModel writes a tiny random-weight llama model for the test and
// returns its path.
func tinyModel(t *testing.T) string {
	t.Helper()
	cfg, err := randllama.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 11
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := randllama.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

// realEngine is the llama.cpp engine over a tiny random-weight model that
// the test generates; requests name the model "tiny".
func realEngine(t *testing.T) *llm.Engine {
	t.Helper()
	path := tinyModel(t)
	e := llm.New(llm.Options{Threads: 1, ContextSize: 1024, Resolve: func(name string) (string, error) {
		if name != "tiny" {
			return "", &apiError{http.StatusNotFound, "no model " + name}
		}
		return path, nil
	}})
	t.Cleanup(e.Close)
	return e
}

func TestChatCompletionsRealEngine(t *testing.T) {
	n := startNode(t, Config{Generator: realEngine(t)})
	url := n.URL() + "/v1/chat/completions"

	r := do(t, "POST", url, "application/json", `{"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "seed": 1}`)
	if r.status != 200 {
		t.Fatalf("chat: %d %s", r.status, r.raw)
	}
	ch := r.body["choices"].([]any)[0].(map[string]any)
	u := r.body["usage"].(map[string]any)
	if r.body["object"] != "chat.completion" || ch["message"].(map[string]any)["role"] != "assistant" || u["completion_tokens"].(float64) < 1 || u["prompt_tokens"].(float64) < 1 {
		t.Fatalf("chat response = %s", r.raw)
	}

	// Schema-constrained output parses and fits the schema. Random weights
	// never close a string by choice, so the schema bounds it.
	schema := `{"type": "object", "properties": {"condition": {"type": "string", "maxLength": 20}, "likelihood": {"type": "string", "enum": ["low", "moderate", "high"]}}, "required": ["condition", "likelihood"]}`
	r = do(t, "POST", url, "application/json", `{"model": "tiny", "messages": [{"role": "user", "content": "Assess"}], "max_tokens": 200, "temperature": 0.7, "seed": 3,
		"response_format": {"type": "json_schema", "json_schema": {"name": "dx", "schema": `+schema+`}}}`)
	if r.status != 200 {
		t.Fatalf("json_schema chat: %d %s", r.status, r.raw)
	}
	choice := r.body["choices"].([]any)[0].(map[string]any)
	if choice["finish_reason"] != "stop" {
		t.Fatalf("json_schema chat finished by %v: %s", choice["finish_reason"], r.raw)
	}
	content := choice["message"].(map[string]any)["content"].(string)
	var out map[string]any
	if err := json.Unmarshal([]byte(content), &out); err != nil {
		t.Fatalf("schema output %q is not JSON: %v", content, err)
	}
	if err := llm.ValidateJSON(json.RawMessage(schema), []byte(content)); err != nil {
		t.Fatalf("schema output %q does not validate: %v", content, err)
	}

	// What OpenAI SDKs send besides plain strings: content as typed parts,
	// the "developer" role, n: 1. The parts' text is the same prompt, so
	// the same seed gives the same answer.
	plain := do(t, "POST", url, "application/json", `{"model": "tiny", "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hello\nthere"}], "max_tokens": 8, "seed": 5, "temperature": 0}`)
	parts := do(t, "POST", url, "application/json", `{"model": "tiny", "messages": [{"role": "developer", "content": [{"type": "text", "text": "Be brief"}]}, {"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "there"}]}], "max_tokens": 8, "seed": 5, "temperature": 0, "n": 1}`)
	if plain.status != 200 || parts.status != 200 {
		t.Fatalf("plain %d %s; parts %d %s", plain.status, plain.raw, parts.status, parts.raw)
	}
	answer := func(r response) any {
		return r.body["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	}
	if answer(plain) != answer(parts) {
		t.Fatalf("content parts answered %q, the same text as a string %q", answer(parts), answer(plain))
	}

	// Streaming: SSE chunks, the role first, a finish reason last, the
	// usage alone after it when asked for, [DONE].
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "stream": true, "seed": 2, "stream_options": {"include_usage": true}}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("stream content type %q", ct)
	}
	var chunks []map[string]any
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("bad chunk %q", line)
		}
		chunks = append(chunks, c)
	}
	if !done || len(chunks) < 2 {
		t.Fatalf("stream: done=%v chunks=%d", done, len(chunks))
	}
	firstDelta := chunks[0]["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	last := chunks[len(chunks)-2]["choices"].([]any)[0].(map[string]any)
	if firstDelta["role"] != "assistant" || last["finish_reason"] == nil {
		t.Fatalf("stream chunks: first %v last %v", firstDelta, last)
	}
	if u, ok := chunks[len(chunks)-1]["usage"].(map[string]any); !ok || len(chunks[len(chunks)-1]["choices"].([]any)) != 0 || u["completion_tokens"].(float64) < 1 {
		t.Fatalf("usage chunk = %v", chunks[len(chunks)-1])
	}

	// ignore_eos (llama.cpp server's extension): a request the random model
	// ends early at its end token runs to max_tokens with it.
	early := ""
	for seed := 1; seed <= 40 && early == ""; seed++ {
		body := fmt.Sprintf(`{"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 200, "temperature": 50, "seed": %d`, seed)
		r := do(t, "POST", url, "application/json", body+"}")
		if r.status == 200 && r.body["usage"].(map[string]any)["completion_tokens"].(float64) < 200 {
			early = body
		}
	}
	if early == "" {
		t.Fatal("no seed ended early: cannot check ignore_eos")
	}
	r = do(t, "POST", url, "application/json", early+`, "ignore_eos": true}`)
	if r.status != 200 || r.body["usage"].(map[string]any)["completion_tokens"].(float64) != 200 ||
		r.body["choices"].([]any)[0].(map[string]any)["finish_reason"] != "length" {
		t.Errorf("ignore_eos: %d %s", r.status, r.raw)
	}

	for _, tt := range []struct{ body, want string }{
		{`{"messages": [{"role": "user", "content": "x"}]}`, "model"},
		{`{"model": "tiny", "messages": []}`, "messages"},
		{`{"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}`, "role"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "stop": 5}`, "stop"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}`, "xml"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "n": 2}`, `"n"`},
		{`{"model": "tiny", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]}`, "image_url"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": 7}]}`, "content"},
		// Schemas that hung or crashed llama.cpp.
		{`{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "^(a*)*$"}}}}`, "pattern"},
		{`{"model": "tiny", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "minLength": 3, "maxLength": 2}}}}`, "minLength"},
	} {
		r := do(t, "POST", url, "application/json", tt.body)
		if r.status != 400 || !strings.Contains(r.body["error"].(string), tt.want) {
			t.Errorf("%s: %d %s", tt.body, r.status, r.raw)
		}
	}
}

// TestNoteJobRealEngine runs the note job on the real engine with a random
// model: the output is gibberish, but it must be schema-valid JSON stored as
// a note document. Random weights never end a string by choice, so the site
// override (a data-dir schema, as a site would write one) bounds every field.
func TestNoteJobRealEngine(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "templates"), 0o755)
	bounded := `{"type": "object", "properties": {
		"subjective": {"type": "string", "maxLength": 12}, "objective": {"type": "string", "maxLength": 12},
		"assessment": {"type": "string", "maxLength": 12}, "plan": {"type": "string", "maxLength": 12},
		"medications": {"type": "array", "maxItems": 0, "items": {"type": "string"}},
		"follow_up": {"type": "string", "maxLength": 12}},
		"required": ["subjective", "objective", "assessment", "plan", "medications", "follow_up"]}`
	os.WriteFile(filepath.Join(dir, "templates", "note.schema.json"), []byte(bounded), 0o644)
	n := startNode(t, Config{DataDir: dir, Generator: realEngine(t), DefaultModel: "tiny"})
	base := n.URL() + "/api/v1"
	r := do(t, "POST", base+"/docs", "application/json", `{"type": "transcript", "collection": "clinic:a", "content": {"text": "Cough for three days."}}`)
	src := r.body["id"].(string)
	r = do(t, "POST", base+"/jobs", "application/json", `{"kind": "note", "input": {"doc_id": "`+src+`"}}`)
	j := waitJob(t, n, r.body["id"].(string))
	if j.State != "done" {
		t.Fatalf("note job: %+v", j)
	}
	r = do(t, "GET", base+"/docs/"+j.Result, "", "")
	c := r.body["content"].(map[string]any)
	for _, k := range []string{"subjective", "objective", "assessment", "plan", "medications", "follow_up", "provenance", "source"} {
		if _, ok := c[k]; !ok {
			t.Fatalf("note lacks %q: %s", k, r.raw)
		}
	}
}
