package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Start recovers jobs interrupted by a crash and starts the workers. Jobs
// that were running when the node died are queued again (their Executor
// finds any result they already wrote); one interrupted MaxAttempts times
// fails.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	if q.mu.started {
		q.mu.Unlock()
		return errors.New("jobs: already started")
	}
	q.mu.started = true
	q.mu.Unlock()
	interrupted, err := q.List(ctx, Running, 1000)
	if err != nil {
		return err
	}
	for _, j := range interrupted {
		if j.Attempts >= q.opts.MaxAttempts {
			if _, err := q.finish(j, Failed, fmt.Sprintf("interrupted %d times", j.Attempts), ""); err != nil {
				return err
			}
			continue
		}
		j.State = Queued
		if err := q.put(j, Running); err != nil {
			return err
		}
		q.log.Info("job requeued after restart", "job", j.ID, "kind", j.Kind, "attempts", j.Attempts)
	}
	ctx, q.stop = context.WithCancel(ctx)
	lanes := map[string]int{"": q.opts.Workers}
	for l, n := range q.opts.Lanes {
		lanes[l] = max(n, 1)
	}
	wakes := make(map[string]chan struct{}, len(lanes))
	for lane, n := range lanes {
		wakes[lane] = make(chan struct{}, n)
		for i := 0; i < n; i++ {
			q.wg.Add(1)
			go q.work(ctx, lane, wakes[lane])
		}
	}
	// Fan the queue's single wake-up out to every lane.
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				for _, w := range wakes {
					for i := 0; i < cap(w); i++ {
						select {
						case w <- struct{}{}:
						default:
						}
					}
				}
			}
		}
	}()
	q.kick()
	return nil
}

// Stop cancels running jobs (they are requeued on the next Start) and
// waits for the workers.
func (q *Queue) Stop() {
	if q.stop != nil {
		q.stop()
	}
	q.wg.Wait()
}

func (q *Queue) work(ctx context.Context, lane string, wake <-chan struct{}) {
	defer q.wg.Done()
	for {
		j, jctx, ok, err := q.claim(ctx, lane)
		if err != nil && ctx.Err() == nil {
			q.log.Error("claim job", "err", err)
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		q.run(ctx, jctx, j)
	}
}

// claim moves the lane's next runnable job to running and registers the
// cancel func of the context it will run under, in one critical section, so
// that Cancel always finds a running job's cancel func.
func (q *Queue) claim(ctx context.Context, lane string) (Job, context.Context, bool, error) {
	if ctx.Err() != nil {
		return Job{}, nil, false, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	p := readyPrefix(lane)
	it, err := q.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return Job{}, nil, false, err
	}
	var id string
	if it.First() {
		id = string(it.Key()[len(p)+16:])
	}
	if err := it.Close(); err != nil || id == "" {
		return Job{}, nil, false, err
	}
	j, err := q.Get(ctx, id)
	if err != nil {
		return Job{}, nil, false, err
	}
	now := q.opts.Now().UTC()
	j.State, j.StartedAt, j.Error = Running, &now, ""
	j.Attempts++
	if err := q.put(j, Queued); err != nil {
		return Job{}, nil, false, err
	}
	jctx, cancel := context.WithCancel(ctx)
	q.mu.running[j.ID] = cancel
	return j, jctx, true, nil
}

// run executes a claimed job under jctx (a child of the queue's ctx).
func (q *Queue) run(ctx, jctx context.Context, j Job) {
	defer func() {
		q.mu.Lock()
		if cancel := q.mu.running[j.ID]; cancel != nil {
			cancel()
		}
		delete(q.mu.running, j.ID)
		q.mu.Unlock()
	}()

	log := q.log.With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	log.Info("job started")
	progress := func(p float64) {
		if p < 0 || p > 1 {
			return
		}
		j.Progress = p
		q.progress.Lock()
		q.progress.m[j.ID] = p
		q.progress.Unlock()
		q.notify(j)
	}
	defer func() {
		q.progress.Lock()
		delete(q.progress.m, j.ID)
		q.progress.Unlock()
	}()
	result, err := runSafely(jctx, q.execs[j.Kind], &j, progress)
	switch {
	case err == nil:
		_, err = q.finish(j, Done, "", result)
		log.Info("job done", "result", result)
	case ctx.Err() != nil:
		// The node is stopping: leave the job running on disk, so that
		// Start requeues it.
		log.Info("job interrupted by shutdown")
		return
	case jctx.Err() != nil:
		_, err = q.finish(j, Cancelled, "cancelled", "")
		log.Info("job cancelled")
	default:
		log.Warn("job failed", "err", err)
		_, err = q.finish(j, Failed, err.Error(), "")
	}
	if err != nil {
		log.Error("recording job outcome", "err", err)
	}
}

// runSafely turns an Executor panic into a failed job instead of a dead node.
func runSafely(ctx context.Context, e Executor, j *Job, progress func(float64)) (res string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("executor panic: %v", r)
		}
	}()
	return e.Run(ctx, j, progress)
}
