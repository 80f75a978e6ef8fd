package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := dispatch(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestModelsCLI walks the commands a user runs: generate a test model,
// import it into a data dir, list and inspect it, generate text with it by
// name, pull the same file from a server, and remove both.
func TestModelsCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "tiny.gguf")
	out, errs, err := run(t, "models", "testgen", "--kind", "llama", "--params", "tiny", "--quant", "q4_0", "--out", file)
	if err != nil {
		t.Fatalf("testgen: %v\n%s", err, errs)
	}
	var gen map[string]any
	if err := json.Unmarshal([]byte(out), &gen); err != nil || gen["random_weights"] != true || gen["type"] != "Q4_0" {
		t.Fatalf("testgen printed %q (%v)", out, err)
	}
	if _, errs, err := run(t, "models", "import", file, "--name", "tiny", "--data", data); err != nil {
		t.Fatalf("import: %v\n%s", err, errs)
	}
	out, _, err = run(t, "models", "list", "--data", data)
	if err != nil || !strings.Contains(out, "tiny") || !strings.Contains(out, "llama (random)") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = run(t, "models", "info", "tiny", "--data", data)
	var info struct {
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	}
	if err != nil || json.Unmarshal([]byte(out), &info) != nil || info.SHA256 == "" {
		t.Fatalf("info: %v\n%s", err, out)
	}
	out, errs, err = run(t, "generate", "--model", "tiny", "--data", data, "--max-tokens", "6", "--threads", "1", "--ctx", "256", "--seed", "1", "hello")
	if err != nil || !strings.Contains(errs, "generated") {
		t.Fatalf("generate: %v\nstdout %q\nstderr %s", err, out, errs)
	}
	// The data dir's only language model is the default; a Whisper
	// command does not take it.
	if _, errs, err := run(t, "generate", "--data", data, "--max-tokens", "2", "--threads", "1", "--ctx", "256", "hi"); err != nil {
		t.Fatalf("generate without --model: %v\n%s", err, errs)
	}
	nowhere := filepath.Join(dir, "no-such-data")
	if _, _, err := run(t, "generate", "--data", nowhere, "hi"); err == nil || !strings.Contains(err.Error(), "no data directory") {
		t.Fatalf("generate without a data dir: %v", err)
	}
	for _, args := range [][]string{{"list"}, {"info", "tiny"}, {"rm", "tiny"}} {
		if _, _, err := run(t, append(append([]string{"models"}, args...), "--data", nowhere)...); err == nil || !strings.Contains(err.Error(), "no data directory") {
			t.Fatalf("models %s without a data dir: %v", args[0], err)
		}
	}
	if _, err := os.Stat(nowhere); !os.IsNotExist(err) {
		t.Fatalf("a failed model lookup created %s (%v)", nowhere, err)
	}
	wav := filepath.Join(dir, "a.wav")
	os.WriteFile(wav, []byte("RIFF"), 0o644)
	if _, _, err := run(t, "transcribe", "--data", data, wav); err == nil || !strings.Contains(err.Error(), "no whisper model") {
		t.Fatalf("transcribe with no Whisper model: %v", err)
	}
	if _, _, err := run(t, "transcribe", "--model", "tiny", "--data", data, wav); err == nil || !strings.Contains(err.Error(), "not whisper") {
		t.Fatalf("transcribe with an LLM: %v", err)
	}

	body, _ := os.ReadFile(file)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "tiny.gguf", time.Time{}, bytes.NewReader(body))
	}))
	defer ts.Close()
	sum := sha256.Sum256(body)
	_, errs, err = run(t, "models", "pull", ts.URL+"/tiny.gguf", "--name", "pulled", "--sha256", hex.EncodeToString(sum[:]), "--data", data)
	if err != nil || !strings.Contains(errs, "100%") {
		t.Fatalf("pull: %v\n%s", err, errs)
	}
	if _, _, err := run(t, "models", "pull", ts.URL+"/tiny.gguf", "--name", "unverified", "--data", data); err == nil {
		t.Fatal("pull of a URL without --sha256 succeeded")
	}
	for _, n := range []string{"tiny", "pulled"} {
		if _, _, err := run(t, "models", "rm", n, "--data", data); err != nil {
			t.Fatalf("rm %s: %v", n, err)
		}
	}
	out, _, _ = run(t, "models", "list", "--data", data)
	if strings.Contains(out, "tiny") {
		t.Fatalf("list after rm: %s", out)
	}
	if _, _, err := run(t, "models", "testgen", "--kind", "nope"); err == nil {
		t.Error("unknown testgen kind accepted")
	}
}
