package sync

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The engine is a pure state machine; these imports would let I/O or
// nondeterminism in.
var bannedImports = map[string]string{
	"net":                                    "sockets belong to the transport (synclink)",
	"net/http":                               "HTTP belongs to the transport and node",
	"time":                                   "time enters only through Tick",
	"os":                                     "files belong to the store",
	"sync":                                   "one goroutine owns the engine; no locks",
	"log":                                    "rejections are reported in Ready; the caller logs",
	"log/slog":                               "rejections are reported in Ready; the caller logs",
	"math/rand":                              "output must be deterministic",
	"math/rand/v2":                           "output must be deterministic",
	"github.com/outposthq/outpost/inference": "the engine knows nothing of models",
}

func TestDependencies(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why, ok := bannedImports[path]; ok {
				t.Errorf("%s imports %s: %s", f, path, why)
			}
		}
	}
}
