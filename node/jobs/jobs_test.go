package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt"
)

func openStore(t *testing.T, dir string) *crdt.Store {
	t.Helper()
	s, err := crdt.Open(dir, crdt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitState waits (without sleeping) until job id reaches state want.
func waitState(t *testing.T, q *Queue, id string, want State) Job {
	t.Helper()
	ch := make(chan Job, 64)
	unsub := q.Subscribe(func(j Job) {
		if j.ID == id {
			select {
			case ch <- j:
			default:
			}
		}
	})
	defer unsub()
	if j, _ := q.Get(context.Background(), id); j.State == want {
		return j
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case j := <-ch:
			if j.State == want {
				return j
			}
		case <-timeout:
			j, _ := q.Get(context.Background(), id)
			t.Fatalf("job %s: state %s, want %s", id, j.State, want)
		}
	}
}

// resultWriter is an Executor that writes its result document the way
// real ones must: at ResultID(job), treating ErrExists as already done.
func resultWriter(s *crdt.Store, block <-chan struct{}, runs *int, mu *sync.Mutex) Executor {
	return ExecutorFunc(func(ctx context.Context, j *Job, progress func(float64)) (string, error) {
		mu.Lock()
		*runs++
		mu.Unlock()
		id := ResultID(j.ID)
		_, err := s.CreateWithID(ctx, id, "note", "c", func(d *automerge.Doc) error {
			return d.RootMap().Set("job", j.ID)
		})
		if err != nil && !errors.Is(err, crdt.ErrExists) {
			return "", err
		}
		progress(0.5)
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return id.String(), nil
	})
}

func TestJobRunsOnceAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	var mu sync.Mutex
	runs := 0

	// First life: the executor writes its result, then the node stops
	// before the job is marked done.
	q := New(s.DB(), Options{})
	q.Register("note", resultWriter(s, make(chan struct{}), &runs, &mu))
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := q.Submit(ctx, Job{Kind: "note", Input: json.RawMessage(`{"doc_id": "x"}`)})
	if err != nil || j.State != Queued {
		t.Fatalf("submit: %+v %v", j, err)
	}
	waitState(t, q, j.ID, Running)
	for {
		if _, err := s.Meta(ctx, ResultID(j.ID)); err == nil {
			break
		}
		waitState(t, q, j.ID, Running)
	}
	q.Stop()
	if got, _ := q.Get(ctx, j.ID); got.State != Running {
		t.Fatalf("after stop: state %s, want running on disk", got.State)
	}
	s.Close()

	// Second life: the job is requeued and completes, reusing the result.
	s = openStore(t, dir)
	defer s.Close()
	q = New(s.DB(), Options{})
	q.Register("note", resultWriter(s, nil, &runs, &mu))
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop()
	done := waitState(t, q, j.ID, Done)
	if done.Attempts != 2 || done.Result != ResultID(j.ID).String() || done.Progress != 1 || done.FinishedAt == nil {
		t.Fatalf("done job = %+v", done)
	}
	ms, _, err := s.List(ctx, crdt.Query{Type: "note"})
	if err != nil || len(ms) != 1 {
		t.Fatalf("result documents = %d (%v), want exactly 1", len(ms), err)
	}
}

func TestPriorityCancelFailLanes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	defer s.Close()
	q := New(s.DB(), Options{Workers: 1, Lanes: map[string]int{"short": 1}})
	var mu sync.Mutex
	var order []string
	gate := make(chan struct{})
	q.Register("block", ExecutorFunc(func(ctx context.Context, j *Job, _ func(float64)) (string, error) {
		select {
		case <-gate:
			return "", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	q.Register("record", ExecutorFunc(func(ctx context.Context, j *Job, _ func(float64)) (string, error) {
		mu.Lock()
		order = append(order, string(j.Input))
		mu.Unlock()
		return "", nil
	}))
	q.Register("fail", ExecutorFunc(func(context.Context, *Job, func(float64)) (string, error) {
		return "", errors.New("model exploded")
	}))
	q.Register("panic", ExecutorFunc(func(context.Context, *Job, func(float64)) (string, error) {
		panic("boom")
	}))
	q.Register("short", laneExec{})

	// Before Start: queue a blocker and records with priorities.
	blocker, _ := q.Submit(ctx, Job{Kind: "block", Priority: 100})
	var recs []Job
	for i, p := range []int{0, 5, 0, -3, 5} {
		j, err := q.Submit(ctx, Job{Kind: "record", Priority: p, Input: json.RawMessage(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, j)
	}
	cancelled, _ := q.Submit(ctx, Job{Kind: "record", Input: json.RawMessage(`"never"`)})
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop()
	waitState(t, q, blocker.ID, Running)
	// The short lane runs while the default lane is blocked.
	short, _ := q.Submit(ctx, Job{Kind: "short"})
	if short.Lane != "short" {
		t.Fatalf("lane = %q", short.Lane)
	}
	waitState(t, q, short.ID, Done)
	if j, err := q.Cancel(ctx, cancelled.ID); err != nil || j.State != Cancelled {
		t.Fatalf("cancel queued: %+v %v", j, err)
	}
	if _, err := q.Cancel(ctx, cancelled.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel twice: %v", err)
	}
	close(gate)
	for _, r := range recs {
		waitState(t, q, r.ID, Done)
	}
	if fmt.Sprint(order) != "[1 4 0 2 3]" {
		t.Fatalf("run order = %v, want priority then age: [1 4 0 2 3]", order)
	}

	f, _ := q.Submit(ctx, Job{Kind: "fail"})
	if j := waitState(t, q, f.ID, Failed); j.Error != "model exploded" {
		t.Fatalf("failed job error = %q", j.Error)
	}
	p, _ := q.Submit(ctx, Job{Kind: "panic"})
	if j := waitState(t, q, p.ID, Failed); j.Error == "" {
		t.Fatal("panicking executor: no error recorded")
	}

	gate2 := make(chan struct{})
	q.Register("block2", ExecutorFunc(func(ctx context.Context, j *Job, _ func(float64)) (string, error) {
		close(gate2)
		<-ctx.Done()
		return "", ctx.Err()
	}))
	run, _ := q.Submit(ctx, Job{Kind: "block2"})
	<-gate2
	if j, err := q.Cancel(ctx, run.ID); err != nil || j.State != Cancelled {
		t.Fatalf("cancel running: %+v %v", j, err)
	}

	if _, err := q.Submit(ctx, Job{Kind: "nope"}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := q.Submit(ctx, Job{Kind: "record", Input: json.RawMessage(`{`)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad input: %v", err)
	}
	if _, err := q.Get(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	all, _ := q.List(ctx, "", 0)
	doneJobs, _ := q.List(ctx, Done, 0)
	if len(all) != 11 || len(doneJobs) != 7 {
		t.Fatalf("list: %d jobs, %d done", len(all), len(doneJobs))
	}
}

type laneExec struct{}

func (laneExec) Lane(*Job) string { return "short" }
func (laneExec) Run(context.Context, *Job, func(float64)) (string, error) {
	return "", nil
}

func TestInterruptedTooOftenFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for life := 1; life <= 4; life++ {
		s := openStore(t, dir)
		q := New(s.DB(), Options{MaxAttempts: 3})
		started := make(chan string, 1)
		q.Register("hang", ExecutorFunc(func(ctx context.Context, j *Job, _ func(float64)) (string, error) {
			started <- j.ID
			<-ctx.Done()
			return "", ctx.Err()
		}))
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if life == 1 {
			if _, err := q.Submit(ctx, Job{Kind: "hang"}); err != nil {
				t.Fatal(err)
			}
		}
		if life <= 3 {
			<-started
		}
		q.Stop()
		if life == 4 {
			js, _ := q.List(ctx, Failed, 0)
			if len(js) != 1 || js[0].Attempts != 3 {
				t.Fatalf("after 3 interruptions: failed jobs %+v", js)
			}
		}
		s.Close()
	}
}

// TestRunningProgressReported checks that Get and List show a running job's
// latest progress, which lives only in memory.
func TestRunningProgressReported(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	var mu sync.Mutex
	runs := 0
	q := New(s.DB(), Options{})
	block := make(chan struct{})
	q.Register("note", resultWriter(s, block, &runs, &mu))
	reported := make(chan struct{}, 1)
	unsub := q.Subscribe(func(j Job) {
		if j.State == Running && j.Progress == 0.5 {
			select {
			case reported <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer q.Stop()
	j, err := q.Submit(ctx, Job{Kind: "note", Input: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-reported:
	case <-time.After(10 * time.Second):
		t.Fatal("no progress reported")
	}
	if got, err := q.Get(ctx, j.ID); err != nil || got.State != Running || got.Progress != 0.5 {
		t.Fatalf("Get: %+v %v, want running at 0.5", got, err)
	}
	list, err := q.List(ctx, Running, 10)
	if err != nil || len(list) != 1 || list[0].Progress != 0.5 {
		t.Fatalf("List(running): %+v %v", list, err)
	}
	close(block)
	if done := waitState(t, q, j.ID, Done); done.Progress != 1 {
		t.Fatalf("done at progress %v", done.Progress)
	}
}

func TestListNewestFirstAcrossStates(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := New(s.DB(), Options{Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	q.Register("note", ExecutorFunc(func(context.Context, *Job, func(float64)) (string, error) { return "", nil }))
	// Not started: jobs stay queued unless cancelled.
	var ids []string
	for i := range 7 {
		j, err := q.Submit(ctx, Job{Kind: "note"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
		if i%3 == 0 {
			if _, err := q.Cancel(ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		state State
		limit int
		want  []string
	}{
		{"", 3, []string{ids[6], ids[5], ids[4]}},
		{"", 100, []string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{Cancelled, 100, []string{ids[6], ids[3], ids[0]}},
		{Queued, 2, []string{ids[5], ids[4]}},
		{Done, 10, nil},
	}
	for _, tt := range tests {
		got, err := q.List(ctx, tt.state, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, j := range got {
			gotIDs = append(gotIDs, j.ID)
		}
		if !slices.Equal(gotIDs, tt.want) {
			t.Errorf("List(%q, %d) = %v, want %v", tt.state, tt.limit, gotIDs, tt.want)
		}
	}
}
