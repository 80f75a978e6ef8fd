package sync_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/outposthq/outpost/crdt/sync/synctest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scripts")

// TestScenarios runs the scripts in testdata/; see synctest.Env.Handle for
// the commands. go test ./crdt/sync -run TestScenarios -rewrite regenerates
// the expected output (review the diff before committing it).
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			env := synctest.NewEnv()
			synctest.RunScript(t, f, *rewrite, env.Handle)
		})
	}
}
