package llamaext

/*
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

// struct ggml_threadpool_params as ggml.h declares it in the pinned version
// (GGML_MAX_N_THREADS 512), with room to spare in case it grew.
typedef struct outpost_pool_params {
	bool     cpumask[512];
	int      n_threads;
	int      prio;
	uint32_t poll;
	bool     strict_cpu;
	bool     paused;
	char     spare[256];
} outpost_pool_params;

void ggml_threadpool_params_init(outpost_pool_params * p, int n_threads);
void * ggml_threadpool_new(outpost_pool_params * p);
void ggml_threadpool_free(void * pool);
void llama_attach_threadpool(void * ctx, void * pool, void * pool_batch);
bool ggml_backend_is_cpu(void * backend);
void ggml_backend_cpu_set_threadpool(void * backend, void * pool);

// outpost_pool_new returns a pool of n_threads that sleep when idle, or
// NULL if ggml's parameter struct does not have the layout above (checked
// by letting ggml fill in its defaults and reading them back).
static void * outpost_pool_new(int n_threads) {
	outpost_pool_params p;
	memset(&p, 0xA5, sizeof p);
	ggml_threadpool_params_init(&p, n_threads);
	if (p.n_threads != n_threads || p.prio != 0 || p.poll != 50 || p.strict_cpu || p.paused) {
		return NULL;
	}
	for (int i = 0; i < 512; i++) {
		if (p.cpumask[i]) return NULL;
	}
	p.poll = 0;
	return ggml_threadpool_new(&p);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/ollama/ollama/llama"
	"github.com/ollama/ollama/ml"

	"github.com/outposthq/outpost/inference/cpuslot"
)

// Pool is a set of compute threads that llama_decode reuses from one call
// to the next. Without one, ggml starts and joins fresh threads for every
// graph it computes; for a small model that is a large part of each decode
// step (see docs/benchmarks.md, "thread pool").
type Pool struct{ p unsafe.Pointer }

// NewPool starts a pool of threads compute threads, the caller's own
// thread being the first, and makes c compute on it, single tokens and
// batches alike. The workers sleep between graphs rather than spin (ggml's
// polling level 0): on a machine with two cores a spinning worker takes the
// core that sampling, HTTP and the other models need.
func NewPool(c *llama.Context, threads int) (*Pool, error) {
	ptr := Ptr(c)
	if ptr == nil {
		return nil, errors.New("llamaext: cannot reach the llama context")
	}
	p, err := newPool(threads)
	if err != nil {
		return nil, err
	}
	C.llama_attach_threadpool(ptr, p, p)
	return &Pool{p: p}, nil
}

var errNoThreads = errors.New("llamaext: a pool needs at least one thread")

// newPool starts a ggml thread pool whose workers sleep between graphs.
func newPool(threads int) (unsafe.Pointer, error) {
	if threads < 1 {
		return nil, errNoThreads
	}
	p := C.outpost_pool_new(C.int(threads))
	if p == nil {
		return nil, errors.New("llamaext: ggml's thread pool parameters are not laid out as this package expects")
	}
	return p, nil
}

// Free stops the pool's threads. Free its context first.
func (p *Pool) Free() {
	if p != nil && p.p != nil {
		C.ggml_threadpool_free(p.p)
		p.p = nil
	}
}

// ShareBackendPool makes the CPU backend of b, a backend from
// github.com/ollama/ollama/ml, compute on a pool of at least threads
// threads. ollama creates one CPU backend per process and every ml backend
// computes on it, so the pool is process-wide and never freed: freeing it
// with one model would leave the next model's graphs a dangling pool. A
// call asking for more threads than the pool has replaces it with a larger
// one; the old one, paused, is kept for good (at most one per core count).
func ShareBackendPool(b ml.Backend, threads int) error {
	if threads < 1 {
		return errNoThreads
	}
	backends, err := cpuBackends(b)
	if err != nil {
		return err
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.p == nil || shared.threads < threads {
		// Idle workers cost nothing, so the pool takes every available CPU
		// at once and later calls with fewer threads reuse it.
		n := max(threads, cpuslot.Threads(0))
		p, err := newPool(n)
		if err != nil {
			return err
		}
		shared.p, shared.threads = p, n
	}
	for _, be := range backends {
		C.ggml_backend_cpu_set_threadpool(be, shared.p)
	}
	return nil
}

var shared struct {
	mu      sync.Mutex
	p       unsafe.Pointer
	threads int
}

// cpuBackends returns the CPU backends among b's scheduler backends, which
// ollama's ggml.Backend keeps in its unexported field schedBackends. The
// field's type is checked before it is read.
func cpuBackends(b ml.Backend) ([]unsafe.Pointer, error) {
	v := reflect.ValueOf(b)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("llamaext: backend %T is not a pointer to a struct", b)
	}
	f := v.Elem().FieldByName("schedBackends")
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Pointer {
		return nil, fmt.Errorf("llamaext: backend %T has no slice of backends where expected", b)
	}
	list := *(*[]unsafe.Pointer)(unsafe.Pointer(f.UnsafeAddr()))
	var cpu []unsafe.Pointer
	for _, be := range list {
		if be != nil && bool(C.ggml_backend_is_cpu(be)) {
			cpu = append(cpu, be)
		}
	}
	if len(cpu) == 0 {
		return nil, fmt.Errorf("llamaext: backend %T has no CPU backend", b)
	}
	return cpu, nil
}
