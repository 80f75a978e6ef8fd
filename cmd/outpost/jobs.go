package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"
)

// outpost jobs: a client of a running node's job queue.

type apiJob struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Input      json.RawMessage `json:"input"`
	Model      string          `json:"model,omitempty"`
	Template   string          `json:"template,omitempty"`
	Priority   int             `json:"priority"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	Error      string          `json:"error,omitempty"`
	Progress   float64         `json:"progress"`
	Result     string          `json:"result,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	subs := map[string]func(context.Context, *docClient, []string, io.Writer) error{
		"list":   jobsList,
		"show":   jobsShow,
		"cancel": jobsCancel,
		"submit": jobsSubmit,
	}
	if len(args) == 0 || subs[args[0]] == nil {
		fmt.Fprintln(stderr, `usage: outpost jobs list|show|cancel|submit [flags]

  list    [--state queued|running|done|failed|cancelled] [--limit N]
  show    ID
  cancel  ID
  submit  --kind K [--input JSON] [--model M] [--template T] [--priority P]

Every subcommand takes --node URL (default $OUTPOST_NODE or http://127.0.0.1:7420)
and --json for machine-readable output.`)
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("jobs: unknown subcommand %q", args[0])
	}
	return subs[args[0]](ctx, &docClient{stderr: stderr}, args[1:], stdout)
}

func printJob(w io.Writer, j apiJob) {
	fmt.Fprintf(w, "id:        %s\nkind:      %s\nstate:     %s\nattempts:  %d\npriority:  %d\n", j.ID, j.Kind, j.State, j.Attempts, j.Priority)
	if j.Model != "" {
		fmt.Fprintf(w, "model:     %s\n", j.Model)
	}
	if j.Template != "" {
		fmt.Fprintf(w, "template:  %s\n", j.Template)
	}
	fmt.Fprintf(w, "progress:  %.0f%%\ncreated:   %s\n", j.Progress*100, j.CreatedAt.Local().Format(time.RFC3339))
	if j.StartedAt != nil {
		fmt.Fprintf(w, "started:   %s\n", j.StartedAt.Local().Format(time.RFC3339))
	}
	if j.FinishedAt != nil {
		fmt.Fprintf(w, "finished:  %s\n", j.FinishedAt.Local().Format(time.RFC3339))
	}
	if j.Result != "" {
		fmt.Fprintf(w, "result:    %s\n", j.Result)
	}
	if j.Error != "" {
		fmt.Fprintf(w, "error:     %s\n", j.Error)
	}
	fmt.Fprintf(w, "input:     %s\n", j.Input)
}

func jobsList(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("jobs list")
	state := fs.String("state", "", "only jobs in this state")
	limit := fs.Int("limit", 100, "at most this many jobs (1-1000)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	if *state != "" {
		q.Set("state", *state)
	}
	var out struct {
		Jobs []apiJob `json:"jobs"`
	}
	if err := dc.call(ctx, http.MethodGet, "/api/v1/jobs?"+q.Encode(), nil, nil, &out); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CREATED\tKIND\tSTATE\tPROGRESS\tID\tRESULT")
	for _, j := range out.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f%%\t%s\t%s\n", j.CreatedAt.Local().Format("2006-01-02 15:04:05"), j.Kind, j.State, j.Progress*100, j.ID, j.Result)
	}
	return tw.Flush()
}

func jobsOne(ctx context.Context, dc *docClient, name, method string, args []string, w io.Writer) error {
	fs := dc.flags("jobs " + name)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("usage: outpost jobs %s ID", name)
	}
	var j apiJob
	if err := dc.call(ctx, method, "/api/v1/jobs/"+url.PathEscape(pos[0]), nil, nil, &j); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, j)
	}
	printJob(w, j)
	return nil
}

func jobsShow(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	return jobsOne(ctx, dc, "show", http.MethodGet, args, w)
}

func jobsCancel(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	return jobsOne(ctx, dc, "cancel", http.MethodDelete, args, w)
}

func jobsSubmit(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("jobs submit")
	kind := fs.String("kind", "", "job kind, e.g. note, diagnose, transcribe (required)")
	input := fs.String("input", "{}", "job input as a JSON object, e.g. {\"doc_id\": \"...\"}")
	doc := fs.String("doc", "", "source document id: short for --input '{\"doc_id\": ID}'")
	model := fs.String("model", "", "model name")
	tmpl := fs.String("template", "", "prompt template name")
	prio := fs.Int("priority", 0, "higher runs first (-1000 to 1000)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *kind == "" {
		return errors.New("jobs submit: --kind is required")
	}
	if !json.Valid([]byte(*input)) {
		return errors.New("jobs submit: --input is not valid JSON")
	}
	if *doc != "" {
		var in map[string]any
		if err := json.Unmarshal([]byte(*input), &in); err != nil || in == nil {
			return errors.New("jobs submit: --input must be a JSON object to add --doc to")
		}
		in["doc_id"] = *doc
		b, _ := json.Marshal(in)
		*input = string(b)
	}
	body, _ := json.Marshal(map[string]any{"kind": *kind, "input": json.RawMessage(*input), "model": *model, "template": *tmpl, "priority": *prio})
	var j apiJob
	if err := dc.call(ctx, http.MethodPost, "/api/v1/jobs", jsonHeader, body, &j); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, j)
	}
	printJob(w, j)
	return nil
}
