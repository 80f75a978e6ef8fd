// Package interop finds the real JavaScript programs that Outpost's tests
// and benchmarks run against it: unmodified automerge-repo clients and
// server, and OpenAI's own SDK. They live in this directory as .mjs files,
// with their npm dependencies pinned in package-lock.json.
package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/outposthq/outpost/internal/filelock"
)

// Dir returns the interop directory with its npm dependencies installed,
// running `npm ci` first if any is missing. dir names it; empty means the
// first that exists of this package's directory in the source tree it was
// built from, ./interop, and interop next to the executable's bin/. Test
// packages run in parallel, so the install is serialised by a lock file.
func Dir(dir string) (string, error) {
	if dir == "" {
		var cands []string
		if _, file, _, ok := runtime.Caller(0); ok {
			cands = append(cands, filepath.Dir(file))
		}
		cands = append(cands, "interop")
		if exe, err := os.Executable(); err == nil {
			cands = append(cands, filepath.Join(filepath.Dir(exe), "..", "interop"))
		}
		dir = cands[len(cands)-1]
		for _, c := range cands {
			if _, err := os.Stat(filepath.Join(c, "package.json")); err == nil {
				dir = c
				break
			}
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return "", fmt.Errorf("interop: no package.json in %s (run from the repository root)", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("interop: the JavaScript clients need Node.js (node) on PATH; `make setup` installs it")
	}
	// Test packages run in parallel: one npm ci at a time.
	lock := filepath.Join(dir, ".install.lock")
	unlock, err := filelock.Lock(lock)
	if err != nil {
		return "", fmt.Errorf("interop: lock %s: %w", lock, err)
	}
	defer unlock()
	missing, err := missingDeps(dir)
	if err != nil || len(missing) == 0 {
		return dir, err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("interop: %v missing from %s/node_modules and npm is not on PATH to install them (`make setup`)", missing, dir)
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("interop: npm ci in %s: %v\n%s", dir, err, out)
	}
	if missing, err = missingDeps(dir); err == nil && len(missing) > 0 {
		err = fmt.Errorf("interop: %v still missing after npm ci in %s", missing, dir)
	}
	return dir, err
}

// missingDeps lists package.json's dependencies that node_modules lacks.
func missingDeps(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, fmt.Errorf("interop: %s/package.json: %w", dir, err)
	}
	var missing []string
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
			missing = append(missing, name)
		}
	}
	return missing, nil
}
