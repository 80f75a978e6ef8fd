package syncserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/synclink"
)

// The test binary doubles as the processes of TestProcessesConverge: with
// OUTPOST_SYNCTEST_ROLE set it runs a sync server or a node instead of the
// tests.
const envRole = "OUTPOST_SYNCTEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "server":
		os.Exit(runServerRole())
	case "node":
		os.Exit(runNodeRole())
	}
	os.Exit(m.Run())
}

func runServerRole() int {
	srv, err := Open(Config{Data: os.Getenv("DATA"), Listen: os.Getenv("LISTEN")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Println("ready")
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// procDocID is the i-th document of a collection, the same on every node.
func procDocID(coll string, i int) crdt.DocID {
	var id crdt.DocID
	copy(id[:], coll)
	id[15] = byte(i + 1)
	return id
}

// runNodeRole runs a node and takes commands on stdin:
//
//	edit I KEY   set KEY in document I of the node's collection; "ok KEY"
//	             once the write is durable (acknowledged)
//	dump         one JSON line: per document id, sorted heads and keys
func runNodeRole() int {
	coll := os.Getenv("COLLECTION")
	st, err := crdt.Open(os.Getenv("DATA"), crdt.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	sid, err := synclink.StorageID(st.DB())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sy, err := synclink.New(synclink.NewPebbleStore(st), synclink.Options{
		StorageID: sid, Name: os.Getenv("NAME"), Collections: []string{coll},
		BackoffMin: 20 * time.Millisecond, BackoffMax: 300 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sy.AddPeer(os.Getenv("URL"), os.Getenv("TOKEN"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sy.Run(ctx) }()
	defer func() { cancel(); <-done }()

	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "edit":
			var i int
			fmt.Sscan(f[1], &i)
			id, key := procDocID(coll, i), f[2]
			set := func(d *automerge.Doc) error { return d.RootMap().Set(key, os.Getenv("NAME")) }
			_, err := st.Update(ctx, id, "", set)
			if err != nil && errors.Is(err, crdt.ErrNotFound) {
				_, err = st.CreateWithID(ctx, id, "note", coll, set)
				if errors.Is(err, crdt.ErrExists) {
					_, err = st.Update(ctx, id, "", set)
				}
			}
			if err != nil {
				fmt.Println("error", err)
				continue
			}
			fmt.Println("ok", key)
		case len(f) == 1 && f[0] == "dump":
			out := map[string]docDump{}
			for i := 0; i < 4; i++ {
				for _, c := range []string{"clinic:a", "clinic:b"} {
					id := procDocID(c, i)
					st.View(ctx, id, func(d *automerge.Doc, m crdt.Meta) error {
						var dd docDump
						for _, h := range d.Heads() {
							dd.Heads = append(dd.Heads, h.String())
						}
						slices.Sort(dd.Heads)
						dd.Keys, _ = d.RootMap().Keys()
						dd.Collection = m.Collection
						out[id.String()] = dd
						return nil
					})
				}
			}
			b, _ := json.Marshal(out)
			fmt.Println(string(b))
		}
	}
	return 0
}

type docDump struct {
	Collection string   `json:"collection"`
	Heads      []string `json:"heads"`
	Keys       []string `json:"keys"`
}

// proc is a child process speaking the line protocol above.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startProc(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, in: in, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

func (p *proc) read(timeout time.Duration) (string, bool) {
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-time.After(timeout):
		return "", false
	}
}

// kill ends the process with SIGKILL, as a power cut would.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
	p.in.Close()
}

// TestProcessesConverge runs a sync server and three nodes as separate
// processes over real sockets, edits on the nodes while killing (-9) and
// restarting nodes and the server at random, and checks that in the end
// every node holds identical heads for every document it is entitled to,
// that no acknowledged edit is missing, and that the clinic:b node never
// holds a clinic:a document.
func TestProcessesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; not in -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("OUTPOST_SYNCTEST_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d (rerun with OUTPOST_SYNCTEST_SEED=%d)", seed, seed)

	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srvData := dir + "/server"
	st, err := crdt.Open(srvData+"/store", crdt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := access.New(st.DB(), crdt.PrefixTokens)
	colls := map[string]string{"a": "clinic:a", "b": "clinic:a", "c": "clinic:b"}
	tok := map[string]string{}
	for n, c := range colls {
		if tok[n], _, err = tokens.Create(context.Background(), n, []string{c}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	startServer := func() *proc {
		p := startProc(t, envRole+"=server", "DATA="+srvData, "LISTEN="+addr)
		if l, ok := p.read(20 * time.Second); !ok || l != "ready" {
			t.Fatalf("server did not start: %q", l)
		}
		return p
	}
	startNode := func(name string) *proc {
		return startProc(t, envRole+"=node", "DATA="+dir+"/"+name, "URL=ws://"+addr+"/sync",
			"TOKEN="+tok[name], "COLLECTION="+colls[name], "NAME="+name)
	}
	server := startServer()
	nodes := map[string]*proc{"a": startNode("a"), "b": startNode("b"), "c": startNode("c")}
	defer func() {
		server.kill()
		for _, p := range nodes {
			p.kill()
		}
	}()

	acked := map[string][]string{} // doc id -> keys acknowledged
	names := []string{"a", "b", "c"}
	edits, nodeKills, serverKills := 0, 0, 0
	defer func() { t.Logf("%d edits acknowledged, %d node kills, %d server kills", edits, nodeKills, serverKills) }()
	steps := 60
	if s := os.Getenv("OUTPOST_SYNCTEST_STEPS"); s != "" {
		fmt.Sscan(s, &steps) // longer runs for exploring, by hand
	}
	for step := 0; step < steps; step++ {
		switch r := rng.IntN(100); {
		case r < 80:
			n := names[rng.IntN(3)]
			i := rng.IntN(4)
			key := fmt.Sprintf("%s%d", n, step)
			fmt.Fprintf(nodes[n].in, "edit %d %s\n", i, key)
			if l, ok := nodes[n].read(20 * time.Second); ok && l == "ok "+key {
				id := procDocID(colls[n], i).String()
				acked[id] = append(acked[id], key)
				edits++
			} else {
				t.Fatalf("step %d: edit on %s: %q", step, n, l)
			}
		case r < 92:
			n := names[rng.IntN(3)]
			nodes[n].kill()
			nodes[n] = startNode(n)
			nodeKills++
		default:
			server.kill()
			server = startServer()
			serverKills++
		}
	}

	// Converge: poll dumps until they agree.
	deadline := time.Now().Add(60 * time.Second)
	for {
		problems := checkDumps(t, nodes, colls, acked)
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no convergence after 60s (seed %d):\n%s", seed, strings.Join(problems, "\n"))
		}
		time.Sleep(200 * time.Millisecond) // other processes converge on their own; nothing to wait on
	}
}

func checkDumps(t *testing.T, nodes map[string]*proc, colls map[string]string, acked map[string][]string) []string {
	dumps := map[string]map[string]docDump{}
	for n, p := range nodes {
		fmt.Fprintln(p.in, "dump")
		l, ok := p.read(20 * time.Second)
		if !ok {
			return []string{n + ": no dump"}
		}
		var d map[string]docDump
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			return []string{n + ": " + err.Error()}
		}
		dumps[n] = d
	}
	var problems []string
	for id, keys := range acked {
		var ref []string
		for _, n := range []string{"a", "b", "c"} {
			d, has := dumps[n][id]
			entitled := colls[n] == docCollection(id)
			if !entitled {
				if has {
					problems = append(problems, fmt.Sprintf("%s holds %s of another collection", n, id))
				}
				continue
			}
			if !has {
				problems = append(problems, fmt.Sprintf("%s lacks %s", n, id))
				continue
			}
			for _, k := range keys {
				if !slices.Contains(d.Keys, k) {
					problems = append(problems, fmt.Sprintf("%s: %s lacks acknowledged key %s", n, id, k))
				}
			}
			if ref == nil {
				ref = d.Heads
			} else if !slices.Equal(ref, d.Heads) {
				problems = append(problems, fmt.Sprintf("%s: heads differ on %s", id, n))
			}
		}
	}
	return problems
}

// docCollection is the collection a test document belongs to (by id).
func docCollection(id string) string {
	for _, c := range []string{"clinic:a", "clinic:b"} {
		for i := 0; i < 4; i++ {
			if procDocID(c, i).String() == id {
				return c
			}
		}
	}
	return ""
}
