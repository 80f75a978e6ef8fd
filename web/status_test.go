package web_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/outposthq/outpost/inference/randllama"
	"github.com/outposthq/outpost/inference/registry"
	"github.com/outposthq/outpost/node"
)

// The models table lists the registry's models; the sync table shows a
// connected peer by name and an unreachable one with its error.
func TestModelsAndSync(t *testing.T) {
	ctx := context.Background()
	dataA := t.TempDir()
	reg, err := registry.Open(dataA, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := randllama.Preset("tiny")
	gguf := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := randllama.WriteFile(gguf, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Import(ctx, gguf, registry.ImportOptions{Name: "tiny-llm"}); err != nil {
		t.Fatal(err)
	}

	b, _ := startNode(t, node.Config{Name: "hub-b"})
	token, _, err := b.Tokens().Create(ctx, "node-a", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	const dead = "ws://127.0.0.1:1/sync"
	a, _ := startNode(t, node.Config{Name: "node-a", DataDir: dataA, Models: reg, Sync: node.SyncConfig{
		Peers: []node.Remote{{URL: b.SyncURL(), Token: token}, {URL: dead}},
	}})

	p := openPage(t, a.URL())
	p.goTo("#/models")
	p.waitJS("the model row", `document.querySelector('#models tr[data-model="tiny-llm"]') !== null`)
	if got := p.text(`#models tr[data-model="tiny-llm"]`); !containsAll(got, "tiny-llm", "language model", "random weights", "llama") {
		t.Errorf("model row reads %q", got)
	}

	p.route("#/sync")
	p.waitJS("the hub connected", fmt.Sprintf(`document.querySelector('#peers tr[data-peer="%s"][data-state="connected"]') !== null`, b.SyncURL()))
	if got := p.text(fmt.Sprintf(`#peers tr[data-peer="%s"]`, b.SyncURL())); !containsAll(got, "hub-b", "we dial", "connected") {
		t.Errorf("hub row reads %q", got)
	}
	p.waitJS("the dead peer backing off with its error", fmt.Sprintf(`(r => r !== null && r.dataset.state === "backoff" && r.querySelector(".error-text") !== null)(document.querySelector('#peers tr[data-peer="%s"]'))`, dead))
	p.waitText("#node-name", "node-a")
	p.noAlerts()
}
