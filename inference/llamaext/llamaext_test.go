package llamaext_test

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outposthq/outpost/inference/llamaext"
	"github.com/outposthq/outpost/inference/randllama"
)

func tinyModel(t *testing.T) *llama.Model {
	t.Helper()
	cfg, _ := randllama.Preset("tiny")
	cfg.Seed = 3
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := randllama.WriteFile(path, cfg); err != nil {
		t.Fatal(err)
	}
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
	var workers []string
	for _, id := range osThreads(t) {
		if !slices.Contains(before, id) {
			workers = append(workers, id)
		}
	}
	if len(workers) != threads-1 {
		t.Fatalf("NewPool(%d) started %d threads, want %d (the caller's is the first)", threads, len(workers), threads-1)
	}
	woken := make([]int, len(workers))
	for i, id := range workers {
		woken[i] = wakeups(t, id)
	}
	got := decode(t, c, m.NumVocab(), tokens)
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("step %d: logits with the pool differ from those without", i)
		}
	}
	// A decode wakes the pool's workers unless they are still awake from
	// the one before; a context that did not use the pool would start
	// threads of its own and leave these asleep.
	for i, id := range workers {
		if n := wakeups(t, id) - woken[i]; n == 0 {
			t.Errorf("worker %s slept through %d decodes", id, len(tokens))
		}
	}
	llamaext.Free(c)
	pool.Free()
	pool.Free() // idempotent
	if after := osThreads(t); len(after) != len(before) {
		t.Errorf("after Free the process has %d threads, want %d", len(after), len(before))
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
