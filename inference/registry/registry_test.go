package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outposthq/outpost/inference/randllama"
)

// model writes a small random-weight GGUF and returns its bytes.
func model(t *testing.T, seed uint64) []byte {
	t.Helper()
	c, _ := randllama.Preset("tiny")
	c.Seed = seed
	var b bytes.Buffer
	if err := randllama.Write(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func open(t *testing.T, opts Options) *Registry {
	t.Helper()
	r, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// finalFiles lists model files in the models dir (not the manifest, lock or
// partial downloads).
func finalFiles(t *testing.T, r *Registry) []string {
	t.Helper()
	ents, err := os.ReadDir(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && n != manifestName && n != ".lock" {
			out = append(out, n)
		}
	}
	return out
}

func TestImportListGetRemove(t *testing.T) {
	r := open(t, Options{})
	data := model(t, 1)
	src := writeFile(t, data)
	ctx := context.Background()
	e, err := r.Import(ctx, src, ImportOptions{Name: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if e.SHA256 != sum(data) || e.Size != int64(len(data)) || e.Format != FormatGGUF || e.Kind != KindLLM {
		t.Errorf("entry = %+v", e)
	}
	if !e.Details.RandomWeights || e.Details.Architecture != "llama" || e.Details.Quantization != "Q8_0" {
		t.Errorf("details = %+v", e.Details)
	}
	// Same file system: hard-linked, not copied.
	a, _ := os.Stat(src)
	b, _ := os.Stat(e.Path)
	if !os.SameFile(a, b) {
		t.Log("import copied instead of hard-linking (different file systems?)")
	}
	if _, err := r.Import(ctx, src, ImportOptions{Name: "tiny"}); !errors.Is(err, ErrExists) {
		t.Errorf("second import: %v, want ErrExists", err)
	}
	// A second Registry on the same dir (another process) sees it.
	r2, _ := Open(filepath.Dir(r.Dir()), Options{})
	got, err := r2.Get("tiny")
	if err != nil || got.Path != e.Path {
		t.Fatalf("Get from second registry: %+v, %v", got, err)
	}
	if p, err := r2.Path("tiny"); err != nil || p != e.Path {
		t.Errorf("Path = %q, %v", p, err)
	}
	list, _ := r.List()
	if len(list) != 1 || list[0].Name != "tiny" {
		t.Errorf("List() = %+v", list)
	}
	if err := r.Remove("tiny"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there after Remove: %v", err)
	}
	if _, err := r.Get("tiny"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if err := r.Remove("tiny"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Errorf("Remove touched the imported source: %v", err)
	}
}

func TestImportRejects(t *testing.T) {
	data := model(t, 2)
	whisperish := append([]byte("lmgg"), make([]byte, 100)...)
	tests := []struct {
		name string
		data []byte
		as   string
		want error
	}{
		{"truncated GGUF", data[:len(data)/3], "x", ErrInvalidModel},
		{"header only", data[:300], "x", ErrInvalidModel},
		{"not a model", []byte("hello world, not a model"), "x", ErrInvalidModel},
		{"whisper without a validator", whisperish, "x", ErrInvalidModel},
		{"bad name", data, "../evil", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := open(t, Options{})
			_, err := r.Import(context.Background(), writeFile(t, tc.data), ImportOptions{Name: tc.as})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if files := finalFiles(t, r); len(files) != 0 {
				t.Errorf("left files behind: %v", files)
			}
			if list, _ := r.List(); len(list) != 0 {
				t.Errorf("listed %+v", list)
			}
		})
	}
}

func TestPluggableInspector(t *testing.T) {
	calls := 0
	r := open(t, Options{Inspect: map[Format]InspectFunc{
		FormatWhisper: func(path string) (Details, error) {
			calls++
			return Details{Architecture: "whisper", Parameters: 39e6}, nil
		},
	}})
	src := writeFile(t, append([]byte("lmgg"), make([]byte, 100)...))
	e, err := r.Import(context.Background(), src, ImportOptions{Name: "whisper:tiny"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != KindWhisper || e.Format != FormatWhisper || e.File != "whisper-tiny.bin" || calls == 0 {
		t.Errorf("entry = %+v, inspector calls %d", e, calls)
	}
}

// server serves body with range support; the first fullCuts requests that
// ask for the whole file are cut off after cut bytes.
type server struct {
	body     []byte
	cut      int
	fullCuts atomic.Int32
	ranges   []string
	mu       sync.Mutex
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	if r.Header.Get("Range") == "" && s.fullCuts.Add(-1) >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(s.body)))
		w.WriteHeader(http.StatusOK)
		w.Write(s.body[:s.cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	http.ServeContent(w, r, "m.gguf", time.Time{}, bytes.NewReader(s.body))
}

func TestPullInterruptedThenResumed(t *testing.T) {
	data := model(t, 3)
	srv := &server{body: data, cut: len(data) / 2}
	srv.fullCuts.Store(1)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	r := open(t, Options{Client: ts.Client()})
	ctx := context.Background()
	url := ts.URL + "/models/tiny-q8.gguf"
	var progress []Progress
	opts := PullOptions{SHA256: sum(data), Progress: func(p Progress) { progress = append(progress, p) }}

	_, err := r.Pull(ctx, url, opts)
	if err == nil {
		t.Fatal("interrupted pull succeeded")
	}
	if files := finalFiles(t, r); len(files) != 0 {
		t.Fatalf("interrupted pull left %v under a final name", files)
	}
	partials, _ := filepath.Glob(filepath.Join(r.Dir(), partialDir, "*.partial"))
	if len(partials) != 1 {
		t.Fatalf("partial files %v, want one", partials)
	}
	if st, _ := os.Stat(partials[0]); st.Size() != int64(srv.cut) {
		t.Fatalf("partial has %d bytes, want %d", st.Size(), srv.cut)
	}

	progress = nil
	e, err := r.Pull(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("bytes=%d-", srv.cut); srv.ranges[len(srv.ranges)-1] != want {
		t.Errorf("resume sent Range %q, want %q", srv.ranges[len(srv.ranges)-1], want)
	}
	if e.Name != "tiny-q8" || e.SHA256 != sum(data) || e.Size != int64(len(data)) || e.Source != url {
		t.Errorf("entry = %+v", e)
	}
	got, err := os.ReadFile(e.Path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("installed file differs from the served one (%v)", err)
	}
	last := progress[len(progress)-1]
	if last.Done != int64(len(data)) || last.Total != int64(len(data)) || last.Resumed != int64(srv.cut) {
		t.Errorf("final progress %+v", last)
	}
	if partials, _ := filepath.Glob(filepath.Join(r.Dir(), partialDir, "*")); len(partials) != 0 {
		t.Errorf("partials left after success: %v", partials)
	}
}

func TestPullRefusesBadDownloads(t *testing.T) {
	data := model(t, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/good.gguf":
			http.ServeContent(w, r, "good.gguf", time.Time{}, bytes.NewReader(data))
		case "/garbage.gguf":
			w.Write([]byte("GGUF but then garbage"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	garbage := []byte("GGUF but then garbage")
	wrong := strings.Repeat("ab", 32)
	catalog := []CatalogEntry{
		{Name: "bad-hash", Format: FormatGGUF, URL: ts.URL + "/good.gguf", SHA256: wrong},
		{Name: "bad-sha1", Format: FormatGGUF, URL: ts.URL + "/good.gguf", SHA1: strings.Repeat("0", 40)},
		{Name: "no-hash", Format: FormatGGUF, URL: ts.URL + "/good.gguf"},
		{Name: "corrupt", Format: FormatGGUF, URL: ts.URL + "/garbage.gguf", SHA256: sum(garbage)},
		{Name: "wrong-format", Format: FormatWhisper, URL: ts.URL + "/good.gguf", SHA256: sum(data)},
		{Name: "missing", Format: FormatGGUF, URL: ts.URL + "/nope.gguf", SHA256: sum(data)},
	}
	tests := []struct {
		ref  string
		opts PullOptions
		want error
	}{
		{"bad-hash", PullOptions{}, ErrHashMismatch},
		{"bad-sha1", PullOptions{}, ErrHashMismatch},
		{"no-hash", PullOptions{}, ErrUnverified},
		{"bad-hash", PullOptions{SHA256: sum(data)}, ErrHashMismatch}, // contradicts the catalog
		{"corrupt", PullOptions{}, ErrInvalidModel},
		{"wrong-format", PullOptions{}, ErrInvalidModel},
		{"missing", PullOptions{}, nil},
		{ts.URL + "/good.gguf", PullOptions{}, ErrUnverified},
		{ts.URL + "/good.gguf", PullOptions{SHA256: wrong}, ErrHashMismatch},
		{"not-in-catalog", PullOptions{}, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			r := open(t, Options{Client: ts.Client(), Catalog: catalog})
			_, err := r.Pull(context.Background(), tc.ref, tc.opts)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if files := finalFiles(t, r); len(files) != 0 {
				t.Errorf("kept %v", files)
			}
			if errors.Is(err, ErrHashMismatch) || errors.Is(err, ErrInvalidModel) {
				if p, _ := filepath.Glob(filepath.Join(r.Dir(), partialDir, "*")); len(p) != 0 {
					t.Errorf("kept a corrupt partial download: %v", p)
				}
			}
		})
	}
	// The checks above are not vacuous: the same sources pass when right.
	r := open(t, Options{Client: ts.Client(), Catalog: catalog})
	if _, err := r.Pull(context.Background(), "no-hash", PullOptions{SHA256: sum(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Pull(context.Background(), ts.URL+"/good.gguf", PullOptions{Name: "unverified", AllowUnverified: true}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentImportsKeepEveryEntry(t *testing.T) {
	r := open(t, Options{})
	src := writeFile(t, model(t, 5))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Import(context.Background(), src, ImportOptions{Name: fmt.Sprintf("m%d", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	list, err := r.List()
	if err != nil || len(list) != 8 {
		t.Fatalf("List() = %d entries, %v; want 8", len(list), err)
	}
	b, _ := os.ReadFile(filepath.Join(r.Dir(), manifestName))
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Version != 1 {
		t.Fatalf("manifest: %v %+v", err, m)
	}
}

func TestCatalogWellFormed(t *testing.T) {
	seen := map[string]bool{}
	r := open(t, Options{})
	if c, ok := r.lookupCatalog("Whisper-Base.en"); !ok || c.Name != "whisper:base.en" {
		t.Errorf("alias lookup found %+v, %v", c, ok)
	}
	for _, c := range Catalog() {
		if seen[c.Name] || ValidName(c.Name) != nil {
			t.Errorf("%s: duplicate or invalid name", c.Name)
		}
		seen[c.Name] = true
		if c.SHA256 != "" && !hexRE.MatchString(c.SHA256) {
			t.Errorf("%s: malformed SHA-256", c.Name)
		}
		if c.SHA1 != "" && len(c.SHA1) != 40 {
			t.Errorf("%s: malformed SHA-1", c.Name)
		}
		if !strings.HasPrefix(c.URL, "https://") || (c.Format != FormatGGUF && c.Format != FormatWhisper) {
			t.Errorf("%s: bad URL or format", c.Name)
		}
	}
}
