package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/registry"
	"github.com/outposthq/outpost/interop"
)

// TestOpenAISDK drives the node's OpenAI-compatible API with OpenAI's own
// JavaScript SDK (interop/openai-client.mjs), unmodified: chat on a real
// engine with a random-weight model from the node's registry, and
// transcription on the real Whisper engine with the oracle's model.
func TestOpenAISDK(t *testing.T) {
	dir, err := interop.Dir(filepath.Join("..", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := tinyModel(t)
	reg, err := registry.Open(t.TempDir(), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Import(ctx, src, registry.ImportOptions{Name: "tiny"}); err != nil {
		t.Fatal(err)
	}
	eng := llm.New(llm.Options{Threads: 1, ContextSize: 1024, Resolve: reg.Path})
	t.Cleanup(eng.Close)
	n := startNode(t, Config{Generator: eng, Models: reg, Speech: speechService(t), DefaultSpeechModel: "tiny", SpeechDefaults: quickDecoding})

	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "node", "openai-client.mjs", n.URL()+"/v1", "tiny", filepath.Join(oracleDir(t), "audio.wav"))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openai-client.mjs: %v\n%s", err, stderr.String())
	}
	got := map[string]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		got[line["case"].(string)] = line
	}
	for _, c := range []string{"models", "chat", "stream", "json_schema", "transcription", "transcription_text"} {
		if e, ok := got[c]["error"]; ok || got[c] == nil {
			t.Errorf("%s: the SDK failed: %v (status %v)", c, e, got[c]["status"])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	if ids := got["models"]["ids"].([]any); len(ids) != 1 || ids[0] != "tiny" {
		t.Errorf("models.list() ids = %v, want [tiny]", ids)
	}
	usageOK := func(u any) bool {
		m, ok := u.(map[string]any)
		return ok && m["prompt_tokens"].(float64) > 0 && m["completion_tokens"].(float64) > 0 &&
			m["total_tokens"].(float64) == m["prompt_tokens"].(float64)+m["completion_tokens"].(float64)
	}
	chat := got["chat"]
	if chat["content"] == nil || chat["finish"] == nil || !usageOK(chat["usage"]) {
		t.Errorf("chat: %v", chat)
	}
	stream := got["stream"]
	if s, _ := stream["content"].(string); s == "" || stream["finish"] == nil || !usageOK(stream["usage"]) || stream["chunks"].(float64) < 3 {
		t.Errorf("stream: %v", stream)
	}
	schema := `{"type": "object", "properties": {"condition": {"type": "string", "maxLength": 20}, "likelihood": {"type": "string", "enum": ["low", "moderate", "high"]}}, "required": ["condition", "likelihood"]}`
	js := got["json_schema"]
	content, _ := js["content"].(string)
	if js["finish"] != "stop" {
		t.Errorf("json_schema finished by %v: %v", js["finish"], js)
	} else if err := llm.ValidateJSON(json.RawMessage(schema), []byte(content)); err != nil {
		t.Errorf("json_schema output %q: %v", content, err)
	}
	// The oracle clip is 3 s; random weights make its text whatever they
	// make, but the SDK must parse the verbose form and the plain text.
	if tr := got["transcription"]; tr["duration"] != float64(3) || tr["segments"].(float64) < 1 || tr["text"] == nil {
		t.Errorf("transcription: %v", tr)
	}
	if tt := got["transcription_text"]; tt["type"] != "string" || strings.TrimSpace(tt["text"].(string)) != strings.TrimSpace(got["transcription"]["text"].(string)) {
		t.Errorf("text transcription %v differs from the verbose one %v", tt, got["transcription"])
	}
	// An unknown model is the SDK's NotFoundError, with our message.
	if um := got["unknown_model"]; um["status"] != float64(404) || !strings.Contains(um["error"].(string), "no-such-model") {
		t.Errorf("unknown model: %v", um)
	}
}
