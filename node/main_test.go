package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/node/jobs"
)

// TestMain lets the test binary act as a node process, so crash tests can
// kill -9 a real node without building the outpost binary first.
func TestMain(m *testing.M) {
	if dir := os.Getenv("OUTPOST_TEST_NODE_DATA"); dir != "" {
		os.Exit(runNodeProcess(dir))
	}
	os.Exit(m.Run())
}

func runNodeProcess(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0", Name: "crash-test",
		Executors: map[string]func(*Node) jobs.Executor{
			"slow-result": func(n *Node) jobs.Executor { return slowResult{n.Store()} },
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	fmt.Printf("LISTEN %s\n", n.URL())
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	return 0
}

// slowResult is a job kind for crash tests: it writes its result document,
// then takes input.first_attempt_ms milliseconds on its first attempt.
type slowResult struct{ store *crdt.Store }

func (e slowResult) Run(ctx context.Context, j *jobs.Job, progress func(float64)) (string, error) {
	store := e.store
	var in struct {
		MS int `json:"first_attempt_ms"`
	}
	json.Unmarshal(j.Input, &in)
	id := jobs.ResultID(j.ID)
	_, err := store.CreateWithID(ctx, id, "result", "crash:test", func(d *automerge.Doc) error {
		return d.RootMap().Set("job", j.ID)
	})
	if err != nil && !errors.Is(err, crdt.ErrExists) {
		return "", err
	}
	if j.Attempts > 1 {
		in.MS = 0
	}
	select {
	case <-time.After(time.Duration(in.MS) * time.Millisecond):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return id.String(), nil
}
