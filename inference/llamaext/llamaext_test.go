package llamaext_test

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"
	_ "github.com/ollama/ollama/ml/backend/ggml" // registers the "ggml" backend

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/llamaext"
	"github.com/outposthq/outpost/inference/randllama"
)

func tinyModelFile(t *testing.T) string {
	t.Helper()
	cfg, _ := randllama.Preset("tiny")
	cfg.Seed = 3
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := randllama.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

func tinyModel(t *testing.T) *llama.Model {
	t.Helper()
	path := tinyModelFile(t)
	llama.BackendInit()
	llamaext.RouteLogs()
	m, err := llama.LoadModelFromFile(path, llama.ModelParams{UseMmap: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { llama.FreeModel(m) })
	return m
}

func newContext(t *testing.T, m *llama.Model, threads int) *llama.Context {
	t.Helper()
	c, err := llama.NewContextWithModel(m, llama.NewContextParams(256, 64, 1, threads, ml.FlashAttentionAuto, ""))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decode feeds tokens one step at a time, as generation does, and returns
// the logits after each step.
func decode(t *testing.T, c *llama.Context, vocab int, tokens []int) [][]float32 {
	t.Helper()
	b, err := llama.NewBatch(8, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	var out [][]float32
	for pos, tok := range tokens {
		b.Clear()
		b.Add(tok, nil, pos, true, 0)
		if err := c.Decode(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(llamaext.Logits(llamaext.Ptr(c), 0, vocab)))
	}
	return out
}

// osThreads lists the process's thread ids (Linux only).
func osThreads(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip("no /proc/self/task on this system")
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// wakeups returns how many times thread tid has gone to sleep and been
// woken (its voluntary context switches).
func wakeups(t *testing.T, tid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + tid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no voluntary_ctxt_switches in %s", b)
	return 0
}

// workers are the threads a pool started. Go may start a thread of its own
// at the same moment, so there can be more of them than the pool's; the
// checks count rather than name them.
type workers struct {
	n      int // the pool's
	ids    []string
	wakeup []int
}

// startedSince returns the threads started since before, which must be at
// least n.
func startedSince(t *testing.T, before []string, n int) workers {
	t.Helper()
	w := workers{n: n}
	for _, id := range osThreads(t) {
		if !slices.Contains(before, id) {
			w.ids = append(w.ids, id)
			w.wakeup = append(w.wakeup, wakeups(t, id))
		}
	}
	if len(w.ids) < n {
		t.Fatalf("the pool started %d threads, want %d (the caller's is the first)", len(w.ids), n)
	}
	return w
}

// checkWoken fails unless the pool's workers have been woken since
// startedSince. A computation wakes them unless they are still awake from
// the one before; one that did not use the pool would start threads of its
// own and leave these asleep. The kernel counts a wakeup when the thread
// sleeps again, which a worker does right after its graph, so the count is
// awaited.
func (w workers) checkWoken(t *testing.T) {
	t.Helper()
	woken := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		woken = 0
		for i, id := range w.ids {
			if wakeups(t, id) > w.wakeup[i] {
				woken++
			}
		}
		if woken >= w.n {
			return
		}
	}
	t.Errorf("%d of the pool's %d workers were woken by the computation", woken, w.n)
}

// checkStopped fails unless the pool's workers have exited.
func (w workers) checkStopped(t *testing.T) {
	t.Helper()
	now := osThreads(t)
	gone := 0
	for _, id := range w.ids {
		if !slices.Contains(now, id) {
			gone++
		}
	}
	if gone < w.n {
		t.Errorf("%d of the pool's %d workers exited after Free", gone, w.n)
	}
}

// A pool computes what ggml's per-graph threads compute, keeps its worker
// threads across decode calls, and stops them on Free.
func TestPool(t *testing.T) {
	runtime.LockOSThread() // keep Go from starting threads of its own mid-count
	defer runtime.UnlockOSThread()
	m := tinyModel(t)
	tokens := []int{1, 300, 301, 302, 303, 304, 305, 306}
	const threads = 2 // more threads than cores would spin in ggml_barrier

	plain := newContext(t, m, threads)
	want := decode(t, plain, m.NumVocab(), tokens)
	llamaext.Free(plain)

	c := newContext(t, m, threads)
	before := osThreads(t)
	pool, err := llamaext.NewPool(c, threads)
	if err != nil {
		t.Fatal(err)
	}
	workers := startedSince(t, before, threads-1)
	got := decode(t, c, m.NumVocab(), tokens)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("step %d: logits with the pool differ from those without", i)
		}
	}
	workers.checkWoken(t)
	llamaext.Free(c)
	pool.Free()
	pool.Free() // idempotent
	workers.checkStopped(t)
}

// The process-wide pool of ollama's ml backends (Whisper's) computes their
// graphs, for one backend after another is closed.
func TestShareBackendPool(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const threads = 2
	path := tinyModelFile(t)
	for i := range 2 {
		b, err := ml.NewBackend(path, ml.BackendParams{AllocMemory: true, NumThreads: threads})
		if err != nil {
			t.Fatal(err)
		}
		workers := sharePool(t, b, threads)
		mulmat(t, b)
		workers.checkWoken(t)
		b.Close()
		if t.Failed() {
			t.Fatalf("backend %d", i)
		}
	}
}

// sharedWorkers are the threads of the process-wide pool, started by the
// first ShareBackendPool call in the test binary.
var sharedWorkers struct {
	once sync.Once
	w    workers
}

func sharePool(t *testing.T, b ml.Backend, threads int) workers {
	t.Helper()
	first := false
	sharedWorkers.once.Do(func() {
		first = true
		before := osThreads(t)
		if err := llamaext.ShareBackendPool(b, threads); err != nil {
			t.Fatal(err)
		}
		sharedWorkers.w = startedSince(t, before, max(threads, cpuslot.Threads(0))-1)
	})
	if !first {
		if err := llamaext.ShareBackendPool(b, threads); err != nil {
			t.Fatal(err)
		}
	}
	w := sharedWorkers.w
	w.wakeup = slices.Clone(w.wakeup)
	for i, id := range w.ids {
		w.wakeup[i] = wakeups(t, id)
	}
	return w
}

// mulmat computes a matrix-vector product on b and checks it.
func mulmat(t *testing.T, b ml.Backend) {
	t.Helper()
	const n = 64
	a, x := make([]float32, n*n), make([]float32, n)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	for i := range x {
		x[i] = float32(i%5) / 4
	}
	ctx := b.NewContext()
	defer ctx.Close()
	in := ctx.Input()
	out := in.FromFloats(a, n, n).Mulmat(ctx, in.FromFloats(x, n, 1))
	ctx.Forward(out).Compute(out)
	got := out.Floats()
	for row := range n {
		var want float32
		for k := range n {
			want += a[row*n+k] * x[k]
		}
		if got[row] != want {
			t.Fatalf("row %d: %v, want %v", row, got[row], want)
		}
	}
}

func TestNewPoolRefusesNoThreads(t *testing.T) {
	m := tinyModel(t)
	c := newContext(t, m, 1)
	defer llamaext.Free(c)
	if _, err := llamaext.NewPool(c, 0); err == nil {
		t.Fatal("NewPool with 0 threads: no error")
	}
}

func TestApplyChatTemplate(t *testing.T) {
	msgs := []llamaext.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hello"}}
	got, ok := llamaext.ApplyChatTemplate("chatml", msgs, true)
	want := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
	if !ok || got != want {
		t.Errorf("chatml: got %q, %v; want %q", got, ok, want)
	}
	if _, ok := llamaext.ApplyChatTemplate("{{ no template llama.cpp knows }}", msgs, true); ok {
		t.Error("an unknown template was applied")
	}
}
