package registry

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies enforces the package boundaries in DESIGN.md for the
// inference packages this registry sits beside.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not available")
	}
	const mod = "github.com/outposthq/outpost/"
	everywhere := map[string]string{
		mod + "crdt":       "inference must not know about documents or sync",
		mod + "node":       "inference is used by node, never the reverse",
		mod + "syncserver": "the hub runs no inference",
		mod + "web":        "inference has no UI",
	}
	tests := []struct {
		pkg    string
		banned map[string]string // anywhere in the dependency graph
		direct map[string]string // imported by the package itself
	}{
		{pkg: mod + "inference/gguf", banned: map[string]string{
			"github.com/ollama/ollama/llama": "the header reader validates files before any byte reaches C",
			"net/http":                       "a file format has no network",
		}},
		{pkg: mod + "inference/randllama", banned: map[string]string{
			"github.com/ollama/ollama/llama": "test models are written in pure Go",
		}},
		{pkg: mod + "inference/llm", banned: map[string]string{
			mod + "inference/registry": "models reach the engine through Options.Resolve",
		}, direct: map[string]string{
			// ollama's packages import net/http themselves; the engine must not.
			"net/http": "the engine does not know about HTTP; node serves it",
		}},
		{pkg: mod + "inference/registry", banned: map[string]string{
			"github.com/ollama/ollama/llama": "the registry validates and stores files, it does not run them",
			mod + "inference/llm":            "the registry does not load models",
		}},
	}
	for _, tc := range tests {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		direct, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", tc.pkg, err)
		}
		for _, d := range strings.Fields(string(direct)) {
			if why, ok := tc.direct[d]; ok {
				t.Errorf("%s imports %s: %s", tc.pkg, d, why)
			}
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for banned, why := range everywhere {
				if d == banned || strings.HasPrefix(d, banned+"/") {
					t.Errorf("%s imports %s: %s", tc.pkg, d, why)
				}
			}
			if why, ok := tc.banned[d]; ok {
				t.Errorf("%s imports %s: %s", tc.pkg, d, why)
			}
		}
	}
}
