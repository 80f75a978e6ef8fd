package jobs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/outposthq/outpost/crdt"
)

// State is where a job is in its life.
type State string

const (
	Queued    State = "queued"
	Running   State = "running"
	Done      State = "done"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Terminal reports whether a job in state s will never run again.
func (s State) Terminal() bool { return s == Done || s == Failed || s == Cancelled }

var (
	ErrNotFound    = errors.New("job not found")
	ErrUnknownKind = errors.New("unknown job kind")
	ErrFinished    = errors.New("job already finished")
	ErrInvalid     = errors.New("invalid job")
)

// Job is one unit of work and everything known about its progress.
type Job struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Input    json.RawMessage `json:"input"`
	Model    string          `json:"model,omitempty"`
	Template string          `json:"template,omitempty"`
	// Priority: higher runs first; equal priorities run oldest first.
	Priority int   `json:"priority"`
	State    State `json:"state"`
	// Attempts counts starts; a job interrupted by a crash is started again.
	Attempts   int        `json:"attempts"`
	Error      string     `json:"error,omitempty"`
	Progress   float64    `json:"progress"`
	Result     string     `json:"result,omitempty"` // result document id
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Lane groups jobs that must not wait behind each other's kind (e.g.
	// a short clip behind a long recording); set by the Executor's Lane.
	Lane string `json:"lane,omitempty"`
}

// Executor runs jobs of one kind. It returns the id of the result document
// it wrote (or found already written).
type Executor interface {
	Run(ctx context.Context, job *Job, progress func(float64)) (resultID string, err error)
}

// Laner is implemented by Executors that put some jobs in another lane.
type Laner interface {
	Lane(job *Job) string
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, job *Job, progress func(float64)) (string, error)

func (f ExecutorFunc) Run(ctx context.Context, job *Job, progress func(float64)) (string, error) {
	return f(ctx, job, progress)
}

// Options configure a Queue.
type Options struct {
	// Workers run jobs of the default lane concurrently (default 1:
	// inference uses every core).
	Workers int
	// Lanes gives other lanes their own workers, so that their jobs never
	// wait behind the default lane's (a short clip behind a long recording).
	Lanes map[string]int
	// MaxAttempts before a job that keeps being interrupted fails (default 3).
	MaxAttempts int
	Logger      *slog.Logger
	Now         func() time.Time
}

// ResultID is the id of the document a job's result is written to.
func ResultID(jobID string) crdt.DocID {
	sum := sha256.Sum256([]byte("outpost job result\x00" + jobID))
	var id crdt.DocID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

// Key layout under crdt.PrefixJobs:
//
//	j 'r' id           → Job (JSON)
//	j 'q' lane 0x00 ^prio(8) created(8) id → nil   runnable jobs per lane, in the order they run
//	j 's' state 0x00 created(8) id → nil jobs by state, oldest first
const (
	subRecord = 'r'
	subReady  = 'q'
	subState  = 's'
)

func recordKey(id string) []byte { return append([]byte{crdt.PrefixJobs, subRecord}, id...) }

func readyPrefix(lane string) []byte {
	k := append([]byte{crdt.PrefixJobs, subReady}, lane...)
	return append(k, 0)
}

func readyKey(j *Job) []byte {
	k := readyPrefix(j.Lane)
	k = binary.BigEndian.AppendUint64(k, ^uint64(int64(j.Priority)+1<<62))
	k = binary.BigEndian.AppendUint64(k, uint64(j.CreatedAt.UnixNano()))
	return append(k, j.ID...)
}

func stateKey(j *Job, s State) []byte {
	k := append([]byte{crdt.PrefixJobs, subState}, s...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint64(k, uint64(j.CreatedAt.UnixNano()))
	return append(k, j.ID...)
}

func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// Queue is the durable job queue. Safe for concurrent use.
type Queue struct {
	db    *pebble.DB
	opts  Options
	log   *slog.Logger
	execs map[string]Executor
	wake  chan struct{}

	// mu serialises claiming and cancelling, so a job is never both.
	mu struct {
		sync.Mutex
		running map[string]context.CancelFunc // job id → cancel
		started bool
	}
	subs struct {
		sync.Mutex
		fns  map[int]func(Job)
		next int
	}
	// progress holds running jobs' latest progress. It is not persisted
	// (a retry recomputes it) but Get and List report it.
	progress struct {
		sync.Mutex
		m map[string]float64
	}
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New opens the queue over db (the node store's Pebble).
func New(db *pebble.DB, opts Options) *Queue {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{db: db, opts: opts, log: opts.Logger, execs: map[string]Executor{}, wake: make(chan struct{}, 1)}
	q.mu.running = map[string]context.CancelFunc{}
	q.subs.fns = map[int]func(Job){}
	q.progress.m = map[string]float64{}
	return q
}

// Register makes kind runnable. Call before Start.
func (q *Queue) Register(kind string, e Executor) { q.execs[kind] = e }

// Kinds lists the registered kinds.
func (q *Queue) Kinds() []string {
	out := make([]string, 0, len(q.execs))
	for k := range q.execs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Subscribe calls fn after every durable change of a job; fn must not block.
func (q *Queue) Subscribe(fn func(Job)) (cancel func()) {
	q.subs.Lock()
	id := q.subs.next
	q.subs.next++
	q.subs.fns[id] = fn
	q.subs.Unlock()
	return func() {
		q.subs.Lock()
		delete(q.subs.fns, id)
		q.subs.Unlock()
	}
}

func (q *Queue) notify(j Job) {
	q.subs.Lock()
	subs := make([]func(Job), 0, len(q.subs.fns))
	for _, fn := range q.subs.fns {
		subs = append(subs, fn)
	}
	q.subs.Unlock()
	for _, fn := range subs {
		fn(j)
	}
}

// Submit durably accepts a job and returns it in state queued.
func (q *Queue) Submit(ctx context.Context, j Job) (Job, error) {
	if _, ok := q.execs[j.Kind]; !ok {
		return Job{}, fmt.Errorf("%w %q (known: %v)", ErrUnknownKind, j.Kind, q.Kinds())
	}
	if len(j.Input) == 0 {
		j.Input = json.RawMessage("{}")
	}
	if !json.Valid(j.Input) {
		return Job{}, fmt.Errorf("%w: input is not JSON", ErrInvalid)
	}
	if j.Priority < -1000 || j.Priority > 1000 {
		return Job{}, fmt.Errorf("%w: priority must be between -1000 and 1000", ErrInvalid)
	}
	j.ID = crdt.NewDocID().String()
	j.State = Queued
	j.Lane = ""
	if l, ok := q.execs[j.Kind].(Laner); ok {
		j.Lane = l.Lane(&j)
		if _, ok := q.opts.Lanes[j.Lane]; !ok {
			j.Lane = ""
		}
	}
	j.CreatedAt = q.opts.Now().UTC()
	j.Attempts, j.Error, j.Result, j.Progress, j.StartedAt, j.FinishedAt = 0, "", "", 0, nil, nil
	b := q.db.NewBatch()
	defer b.Close()
	rec, _ := json.Marshal(j)
	b.Set(recordKey(j.ID), rec, nil)
	b.Set(readyKey(&j), nil, nil)
	b.Set(stateKey(&j, Queued), nil, nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return Job{}, err
	}
	q.notify(j)
	q.kick()
	return j, nil
}

func (q *Queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Get returns a job by id.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	v, closer, err := q.db.Get(recordKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, err
	}
	defer closer.Close()
	var j Job
	if err := json.Unmarshal(v, &j); err != nil {
		return Job{}, fmt.Errorf("job %s: corrupt record: %w", id, err)
	}
	if j.State == Running {
		q.progress.Lock()
		if p, ok := q.progress.m[id]; ok {
			j.Progress = p
		}
		q.progress.Unlock()
	}
	return j, nil
}

// List returns jobs, newest first, optionally only those in one state. It
// reads only the jobs it returns: each state's index is ordered by creation
// time, and the newest of all states are merged from their tails.
func (q *Queue) List(ctx context.Context, state State, limit int) ([]Job, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	states := []State{Queued, Running, Done, Failed, Cancelled}
	if state != "" {
		states = []State{state}
	}
	type tail struct {
		it     *pebble.Iterator
		prefix int // length of the state prefix of its keys
		ok     bool
	}
	var tails []*tail
	defer func() {
		for _, t := range tails {
			t.it.Close()
		}
	}()
	for _, st := range states {
		p := append([]byte{crdt.PrefixJobs, subState}, st...)
		p = append(p, 0)
		it, err := q.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return nil, err
		}
		tails = append(tails, &tail{it: it, prefix: len(p), ok: it.Last()})
	}
	var out []Job
	for len(out) < limit {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The newest remaining job is at one of the tails; keys after the
		// prefix are the creation time (big-endian) then the id.
		var best *tail
		for _, t := range tails {
			if t.ok && (best == nil || bytes.Compare(t.it.Key()[t.prefix:], best.it.Key()[best.prefix:]) > 0) {
				best = t
			}
		}
		if best == nil {
			break
		}
		j, err := q.Get(ctx, string(best.it.Key()[best.prefix+8:]))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
		best.ok = best.it.Prev()
	}
	for _, t := range tails {
		if err := t.it.Error(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Cancel stops a job: a queued one never runs, a running one has its
// context cancelled. Cancelling a finished job is ErrFinished.
func (q *Queue) Cancel(ctx context.Context, id string) (Job, error) {
	q.mu.Lock()
	cancel := q.mu.running[id]
	j, err := q.Get(ctx, id)
	if err != nil {
		q.mu.Unlock()
		return Job{}, err
	}
	if j.State.Terminal() {
		q.mu.Unlock()
		return j, fmt.Errorf("%w: %s is %s", ErrFinished, id, j.State)
	}
	if cancel == nil {
		// Queued (or running on disk after a crash, not yet requeued).
		j, err = q.finish(j, Cancelled, "cancelled", "")
		q.mu.Unlock()
		return j, err
	}
	q.mu.Unlock()
	cancel() // the worker records the cancellation when Run returns
	return q.waitTerminal(ctx, id)
}

// waitTerminal waits until the job reaches a terminal state.
func (q *Queue) waitTerminal(ctx context.Context, id string) (Job, error) {
	ch := make(chan Job, 16)
	unsub := q.Subscribe(func(j Job) {
		if j.ID == id && j.State.Terminal() {
			select {
			case ch <- j:
			default:
			}
		}
	})
	defer unsub()
	if j, err := q.Get(ctx, id); err != nil || j.State.Terminal() {
		return j, err
	}
	select {
	case j := <-ch:
		return j, nil
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
}

// put rewrites j's record and moves its index entries from state `from`.
func (q *Queue) put(j Job, from State) error {
	b := q.db.NewBatch()
	defer b.Close()
	rec, _ := json.Marshal(j)
	b.Set(recordKey(j.ID), rec, nil)
	if from != j.State {
		b.Delete(stateKey(&j, from), nil)
		b.Set(stateKey(&j, j.State), nil, nil)
		if from == Queued {
			b.Delete(readyKey(&j), nil)
		}
		if j.State == Queued {
			b.Set(readyKey(&j), nil, nil)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	q.notify(j)
	return nil
}

func (q *Queue) finish(j Job, s State, errText, result string) (Job, error) {
	from := j.State
	now := q.opts.Now().UTC()
	j.State, j.Error, j.FinishedAt = s, errText, &now
	if result != "" {
		j.Result = result
	}
	if s == Done {
		j.Progress = 1
	}
	return j, q.put(j, from)
}
