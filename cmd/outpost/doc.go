package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// outpost doc: a client of a running node's document API.

func runDoc(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	subs := map[string]func(context.Context, *docClient, []string, io.Writer) error{
		"create":  docCreate,
		"get":     docGet,
		"list":    docList,
		"edit":    docEdit,
		"history": docHistory,
	}
	if len(args) == 0 || subs[args[0]] == nil {
		fmt.Fprintln(stderr, `usage: outpost doc create|get|list|edit|history [flags]

  create  --type T --collection C [--content JSON | --file F]
  get     ID
  list    [--type T] [--collection C] [--limit N] [--cursor C] [--all]
  edit    ID (--patch JSON | --file F | --set key=value ...) [--message M]
  history ID

Every subcommand takes --node URL (default $OUTPOST_NODE or http://127.0.0.1:7420)
and --json for machine-readable output.`)
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("doc: unknown subcommand %q", args[0])
	}
	dc := &docClient{stderr: stderr}
	return subs[args[0]](ctx, dc, args[1:], stdout)
}

// docClient holds the flags every doc subcommand shares.
type docClient struct {
	node   string
	json   bool
	stderr io.Writer
}

// flags makes the flag set of a node client command ("doc get", "jobs list").
func (dc *docClient) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("outpost "+name, flag.ContinueOnError)
	fs.SetOutput(dc.stderr)
	def := os.Getenv("OUTPOST_NODE")
	if def == "" {
		def = "http://127.0.0.1:7420"
	}
	fs.StringVar(&dc.node, "node", def, "node URL")
	fs.BoolVar(&dc.json, "json", false, "print JSON")
	return fs
}

// parseInterleaved parses flags that may come before or after positional
// arguments (`outpost doc get ID --json`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// call does one API request and decodes the JSON answer into out.
func (dc *docClient) call(ctx context.Context, method, path string, header http.Header, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(dc.node, "/")+path, rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach node at %s: %w", dc.node, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

type apiDoc struct {
	ID         string         `json:"id"`
	URL        string         `json:"url"`
	Type       string         `json:"type"`
	Collection string         `json:"collection"`
	Heads      []string       `json:"heads"`
	Content    map[string]any `json:"content"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printDoc(w io.Writer, d apiDoc) error {
	fmt.Fprintf(w, "id:         %s\nurl:        %s\ntype:       %s\ncollection: %s\ncreated:    %s\nupdated:    %s\nheads:      %s\n",
		d.ID, d.URL, d.Type, d.Collection, d.CreatedAt.Local().Format(time.RFC3339), d.UpdatedAt.Local().Format(time.RFC3339), strings.Join(shortHashes(d.Heads), " "))
	if d.Content != nil {
		fmt.Fprintln(w, "content:")
		b, _ := json.MarshalIndent(d.Content, "  ", "  ")
		fmt.Fprintf(w, "  %s\n", b)
	}
	return nil
}

func shortHashes(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		if len(h) > 12 {
			h = h[:12]
		}
		out[i] = h
	}
	return out
}

// readInput returns --content/--patch text or the named file ("-" is stdin).
func readInput(inline, file string) ([]byte, error) {
	switch {
	case inline != "" && file != "":
		return nil, errors.New("give the JSON inline or with --file, not both")
	case file == "-":
		return io.ReadAll(os.Stdin)
	case file != "":
		return os.ReadFile(file)
	}
	return []byte(inline), nil
}

func docCreate(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("doc create")
	typ := fs.String("type", "", "document type, e.g. note (required)")
	coll := fs.String("collection", "", "collection, e.g. clinic:a (required)")
	content := fs.String("content", "", "document content as a JSON object")
	file := fs.String("file", "", "read the content from this file (- for stdin)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if *typ == "" || *coll == "" {
		return errors.New("doc create: --type and --collection are required")
	}
	body, err := readInput(*content, *file)
	if err != nil {
		return err
	}
	var c json.RawMessage = []byte("{}")
	if len(bytes.TrimSpace(body)) > 0 {
		if !json.Valid(body) {
			return errors.New("doc create: content is not valid JSON")
		}
		c = body
	}
	req, _ := json.Marshal(map[string]any{"type": *typ, "collection": *coll, "content": c})
	var d apiDoc
	if err := dc.call(ctx, http.MethodPost, "/api/v1/docs", jsonHeader, req, &d); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, d)
	}
	return printDoc(w, d)
}

func docGet(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("doc get")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: outpost doc get ID")
	}
	var d apiDoc
	if err := dc.call(ctx, http.MethodGet, "/api/v1/docs/"+url.PathEscape(pos[0]), nil, nil, &d); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, d)
	}
	return printDoc(w, d)
}

func docList(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("doc list")
	typ := fs.String("type", "", "only documents of this type")
	coll := fs.String("collection", "", "only documents of this collection")
	limit := fs.Int("limit", 50, "documents per page (1-1000)")
	cursor := fs.String("cursor", "", "continue from a previous page's next cursor")
	all := fs.Bool("all", false, "follow cursors to the end")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	var docs []apiDoc
	next := *cursor
	for {
		q := url.Values{"limit": {fmt.Sprint(*limit)}}
		for k, v := range map[string]string{"type": *typ, "collection": *coll, "cursor": next} {
			if v != "" {
				q.Set(k, v)
			}
		}
		var page struct {
			Docs []apiDoc `json:"docs"`
			Next string   `json:"next"`
		}
		if err := dc.call(ctx, http.MethodGet, "/api/v1/docs?"+q.Encode(), nil, nil, &page); err != nil {
			return err
		}
		docs = append(docs, page.Docs...)
		next = page.Next
		if !*all || next == "" {
			break
		}
	}
	if dc.json {
		return printJSON(w, map[string]any{"docs": docs, "next": next})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPDATED\tTYPE\tCOLLECTION\tID")
	for _, d := range docs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.UpdatedAt.Local().Format("2006-01-02 15:04:05"), d.Type, d.Collection, d.ID)
	}
	tw.Flush()
	if next != "" {
		fmt.Fprintf(w, "\nmore: --cursor %s\n", next)
	}
	return nil
}

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// setsToPatch turns key=value pairs into a merge patch. Dotted keys nest
// ("vitals.bp=120/80"); a value that parses as JSON is used as such, else
// it is a string; "key=" with nothing after deletes the key.
func setsToPatch(sets []string) (map[string]any, error) {
	patch := map[string]any{}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value", kv)
		}
		var val any = v
		if v == "" {
			val = nil
		} else if json.Valid([]byte(v)) {
			_ = json.Unmarshal([]byte(v), &val)
		}
		parts := strings.Split(k, ".")
		m := patch
		for _, p := range parts[:len(parts)-1] {
			child, ok := m[p].(map[string]any)
			if !ok {
				child = map[string]any{}
				m[p] = child
			}
			m = child
		}
		m[parts[len(parts)-1]] = val
	}
	return patch, nil
}

func docEdit(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("doc edit")
	patchArg := fs.String("patch", "", "an RFC 7386 JSON merge patch")
	file := fs.String("file", "", "read the merge patch from this file (- for stdin)")
	msg := fs.String("message", "", "change message recorded in the history")
	var sets setFlags
	fs.Var(&sets, "set", "set key=value (repeatable; dotted keys nest; empty value deletes)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: outpost doc edit ID (--patch JSON | --file F | --set key=value ...)")
	}
	body, err := readInput(*patchArg, *file)
	if err != nil {
		return err
	}
	if len(sets) > 0 {
		if len(body) > 0 {
			return errors.New("doc edit: use --set or a patch, not both")
		}
		p, err := setsToPatch(sets)
		if err != nil {
			return err
		}
		body, _ = json.Marshal(p)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("doc edit: nothing to change: give --patch, --file or --set")
	}
	header := http.Header{"Content-Type": {"application/merge-patch+json"}}
	if *msg != "" {
		header.Set("X-Change-Message", *msg)
	}
	var d apiDoc
	if err := dc.call(ctx, http.MethodPatch, "/api/v1/docs/"+url.PathEscape(pos[0]), header, body, &d); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, d)
	}
	return printDoc(w, d)
}

func docHistory(ctx context.Context, dc *docClient, args []string, w io.Writer) error {
	fs := dc.flags("doc history")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("usage: outpost doc history ID")
	}
	var h struct {
		Changes []struct {
			Hash    string    `json:"hash"`
			Actor   string    `json:"actor"`
			Seq     uint64    `json:"seq"`
			Time    time.Time `json:"time"`
			Message string    `json:"message"`
			Deps    []string  `json:"deps"`
		} `json:"changes"`
	}
	if err := dc.call(ctx, http.MethodGet, "/api/v1/docs/"+url.PathEscape(pos[0])+"/history", nil, nil, &h); err != nil {
		return err
	}
	if dc.json {
		return printJSON(w, h)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tHASH\tACTOR\tSEQ\tMESSAGE")
	for _, c := range h.Changes {
		actor := c.Actor
		if len(actor) > 8 {
			actor = actor[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", c.Time.Local().Format("2006-01-02 15:04:05"), shortHashes([]string{c.Hash})[0], actor, c.Seq, c.Message)
	}
	return tw.Flush()
}
