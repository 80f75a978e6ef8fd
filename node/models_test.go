package node

import (
	"context"
	"testing"

	"github.com/outposthq/outpost/inference/registry"
)

// TestDefaultModel checks which model a request that names none gets.
func TestDefaultModel(t *testing.T) {
	ctx := context.Background()
	src := tinyModel(t)
	reg, err := registry.Open(t.TempDir(), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{cfg: Config{Models: reg}}
	if got := n.defaultModel(registry.KindLLM); got != "" {
		t.Fatalf("empty registry: %q", got)
	}
	if _, err := reg.Import(ctx, src, registry.ImportOptions{Name: "first"}); err != nil {
		t.Fatal(err)
	}
	if got := n.defaultModel(registry.KindLLM); got != "first" {
		t.Fatalf("one LLM installed: %q, want first", got)
	}
	if got := n.defaultModel(registry.KindWhisper); got != "" {
		t.Fatalf("no Whisper model installed: %q", got)
	}
	if _, err := reg.Import(ctx, src, registry.ImportOptions{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	if got := n.defaultModel(registry.KindLLM); got != "" {
		t.Fatalf("two LLMs installed: %q, want none chosen", got)
	}
	n.cfg.DefaultModel = "second"
	if got := n.defaultModel(registry.KindLLM); got != "second" {
		t.Fatalf("configured default: %q", got)
	}
}
