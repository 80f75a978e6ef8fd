// Package storebench measures the document store against what it is built
// on, in the same run: appends against raw Pebble synced batch commits of
// the same bytes, and document loads against automerge-go's in-memory Load
// of the same saved bytes. It backs `outpost bench store`.
package storebench

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"
	"github.com/outposthq/outpost/crdt"
)

// Options size the benchmark. Zero values take the defaults in brackets.
type Options struct {
	Dir          string // scratch directory [a new temp dir]
	Appends      int    // change appends [100000]
	Docs         int    // documents they spread over [1000]
	Writers      int    // concurrent writers [8]
	Rounds       int    // alternating store and raw Pebble rounds the appends are split into [5]
	LoadChanges  int    // changes in the document whose load is timed [10000]
	LoadRepeats  int    // loads timed per variant [20]
	Progress     func(format string, args ...any)
	ProgressEach time.Duration
}

func (o *Options) fill() {
	if o.Appends <= 0 {
		o.Appends = 100000
	}
	if o.Docs <= 0 {
		o.Docs = 1000
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.LoadChanges <= 0 {
		o.LoadChanges = 10000
	}
	if o.LoadRepeats <= 0 {
		o.LoadRepeats = 20
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
}

// Result is one measurement, printed as a JSON line.
type Result map[string]any

// Run runs every measurement, calling emit for each result as it is made.
func Run(ctx context.Context, opts Options, emit func(Result)) error {
	opts.fill()
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "outpost-bench-store-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if err := appends(ctx, dir, opts, emit); err != nil {
		return err
	}
	return loads(ctx, dir, opts, emit)
}

// cpuTime is the process's CPU time so far. Unlike wall time it barely
// moves when other processes load the machine, so per-operation CPU cost
// can be compared even on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// latencies summarises per-operation durations.
func latencies(d []time.Duration) (p50, p99 float64) {
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000
	}
	return at(0.50), at(0.99)
}

// runWriters runs n writers over ops operations and returns the wall time
// and each operation's latency.
func runWriters(ctx context.Context, writers, ops int, op func(w, i int) error) (time.Duration, []time.Duration, error) {
	lat := make([]time.Duration, ops)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= ops || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := op(w, i); err != nil {
					errc <- err
					return
				}
				lat[i] = time.Since(t0)
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, nil, err
	}
	return time.Since(start), lat, ctx.Err()
}

func appends(ctx context.Context, dir string, opts Options, emit func(Result)) error {
	// Compaction off: the raw baseline writes exactly the change log.
	store, err := crdt.Open(filepath.Join(dir, "store"), crdt.Options{CompactChanges: 1 << 30, CompactBytes: 1 << 40})
	if err != nil {
		return err
	}
	ids := make([]crdt.DocID, opts.Docs)
	for i := range ids {
		m, err := store.Create(ctx, "bench", fmt.Sprintf("bench:%d", i%10), func(d *automerge.Doc) error {
			return d.RootMap().Set("body", automerge.NewText("observation log"))
		})
		if err != nil {
			return err
		}
		ids[i] = m.ID
	}
	db, err := pebble.Open(filepath.Join(dir, "raw"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		store.Close()
		return err
	}
	defer db.Close()

	// Rounds alternate the store and the raw baseline, and the ratio is the
	// median of the rounds' ratios: load on the machine that drifts over
	// seconds hits both sides of each ratio alike.
	opts.Progress("store: %d appends over %d documents from %d writers, in %d rounds against raw Pebble", opts.Appends, opts.Docs, opts.Writers, opts.Rounds)
	var elapsed, rawElapsed time.Duration
	var lat, rawLat []time.Duration
	var ratios []float64
	var total int64
	var cpu, rawCPU time.Duration // process CPU time (user+system) of each side
	rng := rand.New(rand.NewSource(1))
	per := opts.Appends / opts.Rounds
	for r := 0; r < opts.Rounds; r++ {
		first := r * per
		n := per
		if r == opts.Rounds-1 {
			n = opts.Appends - first
		}
		before := make([][]automerge.ChangeHash, len(ids))
		for i, id := range ids {
			m, err := store.Meta(ctx, id)
			if err != nil {
				store.Close()
				return err
			}
			before[i] = m.Heads
		}
		c0 := cpuTime()
		e, l, err := runWriters(ctx, opts.Writers, n, func(w, i int) error {
			i += first
			_, err := store.Update(ctx, ids[i%len(ids)], "", func(d *automerge.Doc) error {
				return d.RootMap().Set(fmt.Sprintf("k%d", i), int64(i))
			})
			return err
		})
		if err != nil {
			store.Close()
			return err
		}
		cpu += cpuTime() - c0
		// The exact bytes each append of the round logged.
		var changes [][]byte
		for i, id := range ids {
			err := store.View(ctx, id, func(d *automerge.Doc, _ crdt.Meta) error {
				chs, err := d.Changes(before[i]...)
				if err != nil {
					return err
				}
				for _, c := range chs {
					b := c.Save()
					changes = append(changes, b)
					total += int64(len(b))
				}
				return nil
			})
			if err != nil {
				store.Close()
				return err
			}
		}
		rng.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
		c0 = cpuTime()
		re, rl, err := runWriters(ctx, opts.Writers, len(changes), func(w, i int) error {
			b := db.NewBatch()
			defer b.Close()
			b.Set(fmt.Appendf(nil, "l%08d", first+i), changes[i], nil)
			return b.Commit(pebble.Sync)
		})
		if err != nil {
			store.Close()
			return err
		}
		rawCPU += cpuTime() - c0
		elapsed, rawElapsed = elapsed+e, rawElapsed+re
		lat, rawLat = append(lat, l...), append(rawLat, rl...)
		ratios = append(ratios, e.Seconds()/re.Seconds())
		opts.Progress("round %d/%d: store %.0f ops/s, raw %.0f ops/s", r+1, opts.Rounds, float64(n)/e.Seconds(), float64(len(changes))/re.Seconds())
	}
	store.Close()
	p50, p99 := latencies(lat)
	emit(Result{
		"bench": "store.append", "ops": opts.Appends, "docs": opts.Docs, "writers": opts.Writers,
		"seconds": elapsed.Seconds(), "ops_per_s": float64(opts.Appends) / elapsed.Seconds(),
		"p50_ms": p50, "p99_ms": p99, "change_bytes": total, "synced": true,
		"cpu_us_per_op": float64(cpu.Microseconds()) / float64(opts.Appends),
	})
	rp50, rp99 := latencies(rawLat)
	emit(Result{
		"bench": "pebble.raw_append", "ops": len(rawLat), "writers": opts.Writers,
		"seconds": rawElapsed.Seconds(), "ops_per_s": float64(len(rawLat)) / rawElapsed.Seconds(),
		"p50_ms": rp50, "p99_ms": rp99, "change_bytes": total, "synced": true,
		"cpu_us_per_op": float64(rawCPU.Microseconds()) / float64(len(rawLat)),
	})
	slices.Sort(ratios)
	ratio := ratios[len(ratios)/2]
	emit(Result{"bench": "store.append_overhead", "ratio": ratio, "goal_max": 1.5, "met": ratio <= 1.5,
		"rounds": opts.Rounds, "ratio_total": elapsed.Seconds() / rawElapsed.Seconds(),
		"note": "store append wall time / raw Pebble synced commits of the same bytes: median of alternating rounds"})
	return nil
}

func loads(ctx context.Context, dir string, opts Options, emit func(Result)) error {
	store, err := crdt.Open(filepath.Join(dir, "load"), crdt.Options{CompactChanges: 1 << 30, CompactBytes: 1 << 40})
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := store.Create(ctx, "note", "bench:load", func(d *automerge.Doc) error {
		return d.RootMap().Set("body", automerge.NewText(""))
	})
	if err != nil {
		return err
	}
	opts.Progress("load: writing a document with %d changes", opts.LoadChanges)
	words := []string{"pt ", "reports ", "cough ", "fever ", "rest ", "fluids ", "BP 120/80 ", "\n"}
	for i := 1; i < opts.LoadChanges; i++ {
		_, err := store.Update(ctx, m.ID, "", func(d *automerge.Doc) error {
			if i%3 == 0 {
				return d.RootMap().Set(fmt.Sprintf("f%d", i%50), int64(i))
			}
			v, err := d.RootMap().Get("body")
			if err != nil {
				return err
			}
			return v.Text().Append(words[i%len(words)])
		})
		if err != nil {
			return err
		}
	}
	timeLoad := func() (time.Duration, error) {
		best := time.Duration(1<<63 - 1)
		for r := 0; r < opts.LoadRepeats; r++ {
			store.Forget(m.ID)
			t0 := time.Now()
			if err := store.View(ctx, m.ID, func(*automerge.Doc, crdt.Meta) error { return nil }); err != nil {
				return 0, err
			}
			if d := time.Since(t0); d < best {
				best = d
			}
		}
		return best, nil
	}
	before, err := timeLoad()
	if err != nil {
		return err
	}
	if err := store.Compact(ctx, m.ID); err != nil {
		return err
	}
	after, err := timeLoad()
	if err != nil {
		return err
	}
	var saved []byte
	if err := store.View(ctx, m.ID, func(d *automerge.Doc, _ crdt.Meta) error { saved = d.Save(); return nil }); err != nil {
		return err
	}
	best := time.Duration(1<<63 - 1)
	for r := 0; r < opts.LoadRepeats; r++ {
		t0 := time.Now()
		if _, err := automerge.Load(saved); err != nil {
			return err
		}
		if d := time.Since(t0); d < best {
			best = d
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	emit(Result{"bench": "store.load", "changes": opts.LoadChanges, "compacted": false, "ms": ms(before), "repeats": opts.LoadRepeats, "stat": "min"})
	emit(Result{"bench": "store.load", "changes": opts.LoadChanges, "compacted": true, "ms": ms(after), "saved_bytes": len(saved), "repeats": opts.LoadRepeats, "stat": "min"})
	emit(Result{"bench": "automerge.load_in_memory", "changes": opts.LoadChanges, "ms": ms(best), "saved_bytes": len(saved), "repeats": opts.LoadRepeats, "stat": "min"})
	ratio := after.Seconds() / best.Seconds()
	emit(Result{"bench": "store.load_ratio", "ratio": ratio, "goal_max": 2.0, "met": ratio <= 2.0,
		"note": "compacted store load / in-memory automerge.Load of the same saved bytes"})
	return nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
