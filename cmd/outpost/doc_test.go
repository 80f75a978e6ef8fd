package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startCLINode runs `outpost node` in-process on a free port and returns
// its URL once it serves.
func startCLINode(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, []string{"node", "--data", filepath.Join(t.TempDir(), "data"), "--listen", "127.0.0.1:0", "--name", "cli-test", "--log-level", "warn"}, io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node: %v", err)
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "dashboard and API at "); ok {
				urls <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-urls:
		return u
	case err := <-done:
		t.Fatalf("node exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("node did not start")
	}
	return ""
}

// TestDocAndJobsCLI runs the doc and jobs commands a user types against a
// real node: create, read, edit (by --set and by patch), list, history,
// submit, show, list and cancel a job, and the errors for bad input.
func TestDocAndJobsCLI(t *testing.T) {
	node := startCLINode(t)
	cli := func(args ...string) (string, error) {
		t.Helper()
		out, _, err := run(t, append(args, "--node", node)...)
		return out, err
	}
	var doc struct {
		ID      string         `json:"id"`
		Type    string         `json:"type"`
		Content map[string]any `json:"content"`
	}
	out, err := cli("doc", "create", "--type", "note", "--collection", "clinic:a", "--content", `{"title": "Visit", "body": "Cough"}`, "--json")
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || doc.ID == "" {
		t.Fatalf("doc create: %v\n%s", err, out)
	}
	id := doc.ID

	if _, err := cli("doc", "edit", id, "--set", "body=Cough and fever", "--message", "add fever"); err != nil {
		t.Fatalf("doc edit --set: %v", err)
	}
	if _, err := cli("doc", "edit", id, "--patch", `{"plan": {"rest": "3 days"}}`); err != nil {
		t.Fatalf("doc edit --patch: %v", err)
	}
	out, err = cli("doc", "get", id, "--json")
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("doc get: %v\n%s", err, out)
	}
	if doc.Content["body"] != "Cough and fever" || doc.Content["plan"].(map[string]any)["rest"] != "3 days" || doc.Content["title"] != "Visit" {
		t.Fatalf("content after edits = %v", doc.Content)
	}
	out, err = cli("doc", "get", id)
	if err != nil || !strings.Contains(out, "Cough and fever") || !strings.Contains(out, "clinic:a") {
		t.Fatalf("doc get (human): %v\n%s", err, out)
	}

	out, err = cli("doc", "list", "--type", "note", "--json")
	if err != nil || !strings.Contains(out, id) {
		t.Fatalf("doc list: %v\n%s", err, out)
	}
	if out, err = cli("doc", "list", "--collection", "clinic:b", "--json"); err != nil || strings.Contains(out, id) {
		t.Fatalf("doc list of another collection: %v\n%s", err, out)
	}
	var hist struct {
		Changes []struct {
			Message string `json:"message"`
		} `json:"changes"`
	}
	out, err = cli("doc", "history", id, "--json")
	if err != nil || json.Unmarshal([]byte(out), &hist) != nil || len(hist.Changes) != 3 || hist.Changes[1].Message != "add fever" {
		t.Fatalf("doc history: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"doc", "edit", id, "--patch", `{bad`}, "HTTP 400"},
		{[]string{"doc", "get", "2ZoxVyoMxGToxuz4b2LGeSXDqzaW"}, "HTTP 404"},
		{[]string{"doc", "get", "nope"}, "HTTP 400"},
		{[]string{"doc", "create", "--collection", "clinic:a", "--content", `{}`}, "type"},
		{[]string{"jobs", "submit", "--doc", id}, "--kind"},
		{[]string{"jobs", "submit", "--kind", "note", "--input", `[1]`, "--doc", id}, "JSON object"},
		{[]string{"jobs", "show", "no-such-job"}, "HTTP 404"},
	} {
		if _, err := cli(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}

	// A note job on the document. This node has no language model, so the
	// job cannot finish; what matters here is that the CLI carries it.
	var job apiJob
	out, err = cli("jobs", "submit", "--kind", "note", "--doc", id, "--priority", "5", "--json")
	if err != nil || json.Unmarshal([]byte(out), &job) != nil || job.ID == "" {
		t.Fatalf("jobs submit: %v\n%s", err, out)
	}
	var in map[string]string
	if json.Unmarshal(job.Input, &in) != nil || in["doc_id"] != id || job.Kind != "note" || job.Priority != 5 {
		t.Fatalf("submitted job = %+v (input %s)", job, job.Input)
	}
	out, err = cli("jobs", "show", job.ID)
	if err != nil || !strings.Contains(out, job.ID) || !strings.Contains(out, "note") {
		t.Fatalf("jobs show: %v\n%s", err, out)
	}
	out, err = cli("jobs", "list", "--json")
	if err != nil || !strings.Contains(out, job.ID) {
		t.Fatalf("jobs list: %v\n%s", err, out)
	}
	// Cancel. The job may fail for want of a model first: before the
	// cancel arrives (409), or while it waits for the running job to end
	// (the job's final state comes back).
	out, err = cli("jobs", "cancel", job.ID, "--json")
	switch {
	case err == nil:
		if json.Unmarshal([]byte(out), &job) != nil || job.State != "cancelled" && !(job.State == "failed" && strings.Contains(job.Error, "no model")) {
			t.Fatalf("jobs cancel: %s", out)
		}
	case strings.Contains(err.Error(), "HTTP 409"):
		out, err = cli("jobs", "show", job.ID, "--json")
		if err != nil || json.Unmarshal([]byte(out), &job) != nil || job.State != "failed" {
			t.Fatalf("jobs cancel refused, but the job is %s (%v)", out, err)
		}
	default:
		t.Fatalf("jobs cancel: %v", err)
	}
}
