package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	gosync "sync"
	"time"

	"github.com/automerge/automerge-go"
	"golang.org/x/sync/errgroup"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/verify"
	"github.com/outposthq/outpost/interop"
	"github.com/outposthq/outpost/synclink"
	"github.com/outposthq/outpost/syncserver"
)

// runBenchSync measures sync over loopback WebSocket: a cold sync of a
// corpus from a sync server to an empty node, a reconnect after a fraction
// of the documents changed on each side, and the same cold sync between
// automerge-repo's own Node.js server and client (the baseline), all in
// one run on the same documents.
func runBenchSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	docs := fs.Int("docs", 10000, "documents in the corpus")
	changes := fs.Int("changes", 20, "changes per document")
	changed := fs.Float64("changed", 0.01, "fraction of documents changed on each side before the reconnect")
	js := fs.Bool("js", true, "also run automerge-repo's Node.js server and client (needs node and interop/node_modules)")
	outpost := fs.Bool("outpost", true, "run Outpost's cold sync and reconnect (false: only the baseline)")
	interopFlag := fs.String("interop", "", "the interop directory (default: the source tree's, ./interop, or next to the executable's bin/)")
	noVerify := fs.Bool("no-verify", false, "skip vetting received Automerge bytes in a worker process")
	keep := fs.Bool("keep", false, "keep the temporary data directories")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the Outpost runs to this file")
	reconnectProfile := fs.String("reconnect-cpuprofile", "", "write a CPU profile of the reconnect alone to this file (vetting workers are other processes and do not appear)")
	cacheDocs := fs.Int("cache-docs", 0, "documents each store keeps loaded (crdt.Options.CacheDocs; 0: the store's default)")
	fold := fs.Bool("compact-corpus", true, "fold the server's corpus into snapshots before timing, as the baseline server holds it (false: the first sync folds each document's log)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "outpost-bench-sync-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	} else {
		fmt.Fprintln(stderr, "data in", tmp)
	}
	b := &syncBench{docs: *docs, changes: *changes, cacheDocs: *cacheDocs, tmp: tmp, verify: !*noVerify, fold: *fold, out: json.NewEncoder(stdout), log: stderr, reconnectProfile: *reconnectProfile}

	fmt.Fprintf(stderr, "bench sync: building a corpus of %d documents x %d changes\n", *docs, *changes)
	if err := b.startServer(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench sync: corpus built, resident memory %d MB\n", rssMB())
	defer b.stopServer()
	var cold result
	if *outpost && *cpuprofile != "" && *reconnectProfile == "" {
		// The corpus is built; profile the syncs only.
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *outpost {
		if cold, err = b.cold(ctx); err != nil {
			return err
		}
		if _, err := b.reconnect(ctx, cold, *changed); err != nil {
			return err
		}
	}
	if !*js {
		return nil
	}
	dir, err := interop.Dir(*interopFlag)
	if err != nil {
		return err
	}
	base, err := b.baseline(ctx, dir)
	if err != nil || !*outpost {
		return err
	}
	return b.out.Encode(map[string]any{
		"bench": "sync", "case": "cold", "compare": "outpost vs automerge-repo",
		"speedup":     base.Seconds / cold.Seconds,
		"bytes_ratio": float64(cold.Bytes) / float64(base.Bytes),
		"goal":        "speedup >= 5 and bytes_ratio <= 1",
	})
}

type syncBench struct {
	docs, changes int
	cacheDocs     int
	tmp           string
	verify        bool
	fold          bool
	// reconnectProfile: profile the reconnect alone into this file.
	reconnectProfile string
	out              *json.Encoder
	log              io.Writer

	srv       *syncserver.Server
	srvCancel context.CancelFunc
	srvDone   chan error
	ids       []crdt.DocID
	node      *crdt.Store
}

// result is one measurement line.
type result struct {
	Bench      string  `json:"bench"`
	Case       string  `json:"case"`
	Impl       string  `json:"impl"`
	Docs       int     `json:"docs"`
	Changes    int     `json:"changes_per_doc,omitempty"`
	Changed    int     `json:"changed_per_side,omitempty"`
	Seconds    float64 `json:"seconds"`
	Bytes      int64   `json:"bytes"`
	BytesIn    int64   `json:"bytes_to_client"`
	BytesOut   int64   `json:"bytes_from_client"`
	Messages   int64   `json:"messages"`
	RoundTrips float64 `json:"round_trips_per_doc"`
	DocsPerSec float64 `json:"docs_per_second"`
	// RSSMB is this process's resident memory after the run (server and
	// node share the process; automerge-go documents live in C memory).
	RSSMB int `json:"rss_mb,omitempty"`
	// Corpus is how the Outpost server holds the documents when the
	// cold sync starts: "snapshots" or "logs" (see --compact-corpus).
	Corpus string  `json:"server_corpus,omitempty"`
	VsCold *vsCold `json:"vs_cold,omitempty"`
}

type vsCold struct {
	Seconds float64 `json:"seconds_ratio"`
	Bytes   float64 `json:"bytes_ratio"`
	Goal    string  `json:"goal"`
}

func (b *syncBench) startServer(ctx context.Context) error {
	srv, err := syncserver.Open(syncserver.Config{Data: filepath.Join(b.tmp, "server"), Listen: "127.0.0.1:0", NoVerify: !b.verify,
		Logger:       slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelWarn})),
		StoreOptions: crdt.Options{CacheDocs: b.cacheDocs}})
	if err != nil {
		return err
	}
	b.srv = srv
	if err := b.buildCorpus(ctx); err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	b.srvCancel, b.srvDone = cancel, make(chan error, 1)
	go func() { b.srvDone <- srv.Run(sctx) }()
	return nil
}

func (b *syncBench) stopServer() {
	if b.srvCancel != nil {
		b.srvCancel()
		<-b.srvDone
	}
}

// buildCorpus writes the documents: clinic notes typed in bursts, each
// burst a change (text appended to the note, a field or two set).
func (b *syncBench) buildCorpus(ctx context.Context) error {
	st := b.srv.Store()
	b.ids = make([]crdt.DocID, b.docs)
	for i := range b.ids {
		b.ids[i] = benchDocID(i)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8) // more only fragments automerge's C heap
	for i, id := range b.ids {
		g.Go(func() error {
			_, err := st.CreateWithID(gctx, id, "note", "bench", func(d *automerge.Doc) error {
				return fillNote(d, i, b.changes)
			})
			if i%256 == 0 {
				runtime.GC() // automerge documents live in C memory Go does not see
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	runtime.GC()
	if !b.fold {
		return nil
	}
	// A hub holds documents as snapshots: those it received whole are
	// stored so, the rest are folded as they are served or as their logs
	// grow. The baseline server is handed the same Save() bytes.
	for i, id := range b.ids {
		if err := st.Compact(ctx, id); err != nil {
			return err
		}
		st.Forget(id)
		if i%256 == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	return nil
}

func benchDocID(i int) crdt.DocID {
	var id crdt.DocID
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	for j := range id {
		id[j] = byte(r.Uint32())
	}
	return id
}

var phrases = []string{
	"Patient reports intermittent fever for three days. ",
	"No cough, mild headache, appetite reduced. ",
	"Temperature 38.4, pulse 96, blood pressure 118/76. ",
	"Malaria rapid test negative; advised fluids and rest. ",
	"Follow up in two days or sooner if symptoms worsen. ",
	"Mother present, child alert and drinking. ",
}

func fillNote(d *automerge.Doc, i, changes int) error {
	t := time.Unix(1_700_000_000+int64(i), 0)
	root := d.RootMap()
	if err := root.Set("title", automerge.NewText(fmt.Sprintf("Visit %d", i))); err != nil {
		return err
	}
	if err := root.Set("patient", fmt.Sprintf("P-%06d", i)); err != nil {
		return err
	}
	if err := root.Set("notes", automerge.NewText("")); err != nil {
		return err
	}
	if _, err := d.Commit("create", automerge.CommitOptions{Time: &t}); err != nil {
		return err
	}
	notes := d.Path("notes").Text()
	for c := 1; c < changes; c++ {
		p := phrases[(i+c)%len(phrases)]
		if err := notes.Append(p); err != nil {
			return err
		}
		if err := root.Set("status", []string{"draft", "review", "signed"}[c%3]); err != nil {
			return err
		}
		if err := root.Set("edits", int64(c)); err != nil {
			return err
		}
		t = t.Add(time.Minute)
		if _, err := d.Commit("edit", automerge.CommitOptions{Time: &t}); err != nil {
			return err
		}
	}
	return nil
}

// nodeSide is the benchmark's node: a store on disk and a Syncer.
type nodeSide struct {
	syncer *synclink.Syncer
	cancel context.CancelFunc
	done   chan error
	v      *verify.Verifier
}

func (b *syncBench) startNode(ctx context.Context, tok string) (*nodeSide, error) {
	if b.node == nil {
		st, err := crdt.Open(filepath.Join(b.tmp, "node"), crdt.Options{CacheDocs: b.cacheDocs})
		if err != nil {
			return nil, err
		}
		b.node = st
	}
	sid, err := synclink.StorageID(b.node.DB())
	if err != nil {
		return nil, err
	}
	n := &nodeSide{done: make(chan error, 1)}
	level := slog.LevelWarn
	if os.Getenv("OUTPOST_SYNC_DEBUG") != "" {
		level = slog.LevelDebug
	}
	opts := synclink.Options{StorageID: sid, Name: "bench-node", Collections: []string{"bench"},
		Logger: slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: level}))}
	if b.verify {
		n.v, err = verify.New(verify.Options{})
		if err != nil {
			return nil, err
		}
		opts.Verify = synclink.VerifyWith(n.v)
	}
	n.syncer, err = synclink.New(synclink.NewPebbleStore(b.node), opts)
	if err != nil {
		return nil, err
	}
	n.syncer.AddPeer(b.srv.URL(), tok)
	nctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	go func() { n.done <- n.syncer.Run(nctx) }()
	return n, nil
}

func (n *nodeSide) stop() {
	n.cancel()
	<-n.done
	if n.v != nil {
		n.v.Close()
	}
}

func (n *nodeSide) traffic() (in, out, msgs int64) {
	for _, p := range n.syncer.Status() {
		in += p.BytesIn
		out += p.BytesOut
		msgs += p.MsgsIn + p.MsgsOut
	}
	return
}

// waitHeads waits until every listed document has the wanted heads in st.
func waitHeads(ctx context.Context, st *crdt.Store, want map[crdt.DocID][]automerge.ChangeHash) error {
	var mu gosync.Mutex
	left := map[crdt.DocID]bool{}
	for id := range want {
		left[id] = true
	}
	signal := make(chan struct{}, 1)
	check := func(m crdt.Meta) {
		mu.Lock()
		defer mu.Unlock()
		if left[m.ID] && crdt.SameHeads(m.Heads, want[m.ID]) {
			delete(left, m.ID)
			if len(left) == 0 {
				select {
				case signal <- struct{}{}:
				default:
				}
			}
		}
	}
	cancel := st.Subscribe(check)
	defer cancel()
	for id := range want {
		if m, err := st.Meta(ctx, id); err == nil {
			check(m)
		}
	}
	mu.Lock()
	done := len(left) == 0
	mu.Unlock()
	if done {
		return nil
	}
	select {
	case <-signal:
		return nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%w with %d documents not in sync", ctx.Err(), len(left))
	}
}

func (b *syncBench) heads(ctx context.Context, st *crdt.Store, ids []crdt.DocID) (map[crdt.DocID][]automerge.ChangeHash, error) {
	out := map[crdt.DocID][]automerge.ChangeHash{}
	for _, id := range ids {
		m, err := st.Meta(ctx, id)
		if err != nil {
			return nil, err
		}
		out[id] = m.Heads
	}
	return out, nil
}

func (b *syncBench) cold(ctx context.Context) (result, error) {
	want, err := b.heads(ctx, b.srv.Store(), b.ids)
	if err != nil {
		return result{}, err
	}
	tok, _, err := b.srv.Tokens().Create(ctx, "bench-node", []string{"bench"})
	if err != nil {
		return result{}, err
	}
	fmt.Fprintln(b.log, "bench sync: cold sync, Outpost")
	start := time.Now()
	if os.Getenv("OUTPOST_BENCH_TRACE") != "" {
		tctx, tcancel := context.WithCancel(ctx)
		defer tcancel()
		go func() {
			for {
				select {
				case <-tctx.Done():
					return
				case <-time.After(2 * time.Second):
				}
				n := 0
				if ms, err := b.node.ChangedSince(tctx, "bench", 0, b.docs+1); err == nil {
					n = len(ms)
				}
				fmt.Fprintf(b.log, "bench sync: %.0fs: node has %d documents, resident memory %d MB\n", time.Since(start).Seconds(), n, rssMB())
			}
		}()
	}
	n, err := b.startNode(ctx, tok)
	if err != nil {
		return result{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	err = waitHeads(wctx, b.node, want)
	secs := time.Since(start).Seconds()
	in, out, msgs := n.traffic()
	if err == nil {
		// A node stays connected after a sync; let the cursors that make
		// the next reconnect cheap settle as they would, then stop it.
		err = b.settle(wctx)
	}
	n.stop()
	if err != nil {
		return result{}, fmt.Errorf("cold sync: %w", err)
	}
	r := result{Bench: "sync", Case: "cold", Impl: "outpost", Docs: b.docs, Changes: b.changes, Seconds: secs,
		Bytes: in + out, BytesIn: in, BytesOut: out, Messages: msgs,
		RoundTrips: float64(msgs) / 2 / float64(b.docs), DocsPerSec: float64(b.docs) / secs, RSSMB: rssMB(), Corpus: "logs"}
	if b.fold {
		r.Corpus = "snapshots"
	}
	b.node.Close()
	b.node = nil // reopened for the reconnect, as a restarted node would
	return r, b.out.Encode(r)
}

// settle waits until each side has persisted its cursor for the other at
// the other's latest change: what a node that stays connected for a moment
// after a sync has.
func (b *syncBench) settle(ctx context.Context) error {
	srvID, err := synclink.StorageID(b.srv.Store().DB())
	if err != nil {
		return err
	}
	nodeID, err := synclink.StorageID(b.node.DB())
	if err != nil {
		return err
	}
	srvView, nodeView := synclink.NewPebbleStore(b.srv.Store()), synclink.NewPebbleStore(b.node)
	t := time.NewTicker(20 * time.Millisecond) // the cursors live in other goroutines' stores
	defer t.Stop()
	for {
		a, err := nodeView.Cursor(srvID, "bench")
		if err != nil {
			return err
		}
		c, err := srvView.Cursor(nodeID, "bench")
		if err != nil {
			return err
		}
		if a >= b.srv.Store().CollectionSeq("bench") && c >= b.node.CollectionSeq("bench") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cursors did not settle: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (b *syncBench) reconnect(ctx context.Context, cold result, frac float64) (result, error) {
	k := int(float64(b.docs) * frac)
	if k < 1 {
		k = 1
	}
	st, err := crdt.Open(filepath.Join(b.tmp, "node"), crdt.Options{CacheDocs: b.cacheDocs})
	if err != nil {
		return result{}, err
	}
	b.node = st
	defer func() { b.node.Close(); b.node = nil }()
	edit := func(st *crdt.Store, ids []crdt.DocID, who string) error {
		for _, id := range ids {
			if _, err := st.Update(ctx, id, "", func(d *automerge.Doc) error {
				return d.Path("notes").Text().Append(" Reviewed by " + who + ".")
			}); err != nil {
				return err
			}
		}
		return nil
	}
	srvIDs, nodeIDs := b.ids[:k], b.ids[k:2*k]
	if err := edit(b.srv.Store(), srvIDs, "the server"); err != nil {
		return result{}, err
	}
	if err := edit(b.node, nodeIDs, "the node"); err != nil {
		return result{}, err
	}
	wantNode, err := b.heads(ctx, b.srv.Store(), srvIDs)
	if err != nil {
		return result{}, err
	}
	wantSrv, err := b.heads(ctx, b.node, nodeIDs)
	if err != nil {
		return result{}, err
	}
	tok, _, err := b.srv.Tokens().Create(ctx, "bench-node-2", []string{"bench"})
	if err != nil {
		return result{}, err
	}
	fmt.Fprintf(b.log, "bench sync: reconnect after %d documents changed on each side\n", k)
	if b.reconnectProfile != "" {
		stop, err := startCPUProfile(b.reconnectProfile)
		if err != nil {
			return result{}, err
		}
		defer stop()
	}
	start := time.Now()
	n, err := b.startNode(ctx, tok)
	if err != nil {
		return result{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	g, gctx := errgroup.WithContext(wctx)
	g.Go(func() error { return waitHeads(gctx, b.node, wantNode) })
	g.Go(func() error { return waitHeads(gctx, b.srv.Store(), wantSrv) })
	err = g.Wait()
	secs := time.Since(start).Seconds()
	in, out, msgs := n.traffic()
	n.stop()
	if err != nil {
		return result{}, fmt.Errorf("reconnect: %w", err)
	}
	r := result{Bench: "sync", Case: "reconnect", Impl: "outpost", Docs: b.docs, Changed: k, Seconds: secs,
		Bytes: in + out, BytesIn: in, BytesOut: out, Messages: msgs,
		RoundTrips: float64(msgs) / 2 / float64(2*k), DocsPerSec: float64(2*k) / secs, RSSMB: rssMB(),
		VsCold: &vsCold{Seconds: secs / cold.Seconds, Bytes: float64(in+out) / float64(cold.Bytes), Goal: "both < 0.05"}}
	return r, b.out.Encode(r)
}

// baseline runs the same cold sync between automerge-repo's Node.js server
// and client.
func (b *syncBench) baseline(ctx context.Context, dir string) (result, error) {
	corpus := filepath.Join(b.tmp, "corpus.jsonl")
	idsFile := filepath.Join(b.tmp, "ids.txt")
	if err := b.writeCorpus(ctx, corpus, idsFile); err != nil {
		return result{}, err
	}
	fmt.Fprintln(b.log, "bench sync: cold sync, automerge-repo (Node.js server and client)")
	server := exec.CommandContext(ctx, "node", "bench-server.mjs", corpus)
	server.Dir = dir
	server.Stderr = b.log
	sin, err := server.StdinPipe()
	if err != nil {
		return result{}, err
	}
	sout, err := server.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := server.Start(); err != nil {
		return result{}, err
	}
	defer func() { fmt.Fprintln(sin, "exit"); sin.Close(); server.Wait() }()
	lines := bufio.NewScanner(sout)
	if !lines.Scan() {
		return result{}, errors.New("bench sync: the automerge-repo server did not start")
	}
	port, ok := strings.CutPrefix(lines.Text(), "ready ")
	if !ok {
		return result{}, fmt.Errorf("bench sync: automerge-repo server said %q", lines.Text())
	}
	client := exec.CommandContext(ctx, "node", "bench-client.mjs", "ws://127.0.0.1:"+port, idsFile, filepath.Join(b.tmp, "js-client"))
	client.Dir = dir
	client.Stderr = b.log
	out, err := client.Output()
	if err != nil {
		return result{}, fmt.Errorf("bench sync: automerge-repo client: %w", err)
	}
	var cr struct {
		Seconds float64 `json:"seconds"`
		Docs    int     `json:"docs"`
		Retries int     `json:"retries"`
	}
	if err := json.Unmarshal(out, &cr); err != nil {
		return result{}, fmt.Errorf("bench sync: client said %q: %w", out, err)
	}
	fmt.Fprintln(sin, "stats")
	if !lines.Scan() {
		return result{}, errors.New("bench sync: no stats from the automerge-repo server")
	}
	var st struct {
		BytesIn  int64 `json:"bytes_in"`
		BytesOut int64 `json:"bytes_out"`
		MsgsIn   int64 `json:"messages_in"`
		MsgsOut  int64 `json:"messages_out"`
	}
	if err := json.Unmarshal(lines.Bytes(), &st); err != nil {
		return result{}, err
	}
	msgs := st.MsgsIn + st.MsgsOut
	if cr.Retries > 0 {
		fmt.Fprintf(b.log, "bench sync: automerge-repo reported %d documents unavailable and they were asked for again\n", cr.Retries)
	}
	r := result{Bench: "sync", Case: "cold", Impl: "automerge-repo", Docs: cr.Docs, Changes: b.changes, Seconds: cr.Seconds,
		Bytes: st.BytesIn + st.BytesOut, BytesIn: st.BytesOut, BytesOut: st.BytesIn, Messages: msgs,
		RoundTrips: float64(msgs) / 2 / float64(cr.Docs), DocsPerSec: float64(cr.Docs) / cr.Seconds}
	return r, b.out.Encode(r)
}

// writeCorpus exports the server's documents for the Node.js server.
func (b *syncBench) writeCorpus(ctx context.Context, corpus, idsFile string) error {
	f, err := os.Create(corpus)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var ids strings.Builder
	enc := json.NewEncoder(w)
	for _, id := range b.ids {
		var saved []byte
		if err := b.srv.Store().View(ctx, id, func(d *automerge.Doc, _ crdt.Meta) error {
			saved = d.Save()
			return nil
		}); err != nil {
			return err
		}
		if err := enc.Encode(map[string]string{"id": id.String(), "doc": base64.StdEncoding.EncodeToString(saved)}); err != nil {
			return err
		}
		ids.WriteString(id.String() + "\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return os.WriteFile(idsFile, []byte(ids.String()), 0o644)
}

// rssMB reads this process's resident set size (Linux; 0 elsewhere).
func rssMB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
