package syncserver

import (
	"context"
	"encoding/hex"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/wire"
	"github.com/outposthq/outpost/interop"
	"github.com/outposthq/outpost/synclink"
)

// interopDir returns ../interop with its npm dependencies installed.
func interopDir(t *testing.T) string {
	t.Helper()
	dir, err := interop.Dir(filepath.Join("..", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// jsClient is interop's automerge-repo client, failing the test on error.
type jsClient struct {
	t *testing.T
	c *interop.RepoClient
}

func startJS(t *testing.T, dir, url string) *jsClient {
	t.Helper()
	c, err := interop.StartRepoClient(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &jsClient{t, c}
}

// do sends one command and returns its one-line reply.
func (c *jsClient) do(cmd string, timeout time.Duration) string {
	c.t.Helper()
	reply, err := c.c.Do(cmd, timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	return reply
}

func startServer(t *testing.T) *Server {
	t.Helper()
	cfg := Config{Data: t.TempDir(), Listen: "127.0.0.1:0"}
	if os.Getenv("OUTPOST_SYNC_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv
}

func token(t *testing.T, srv *Server, collections ...string) string {
	t.Helper()
	secret, _, err := srv.Tokens().Create(context.Background(), "test", collections)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// goNode is a Go node: a store and a Syncer dialing the server.
type goNode struct {
	store  *crdt.Store
	syncer *synclink.Syncer
}

func startNode(t *testing.T, srvURL, tok string, collections ...string) *goNode {
	t.Helper()
	st, err := crdt.Open("", crdt.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	sy, err := synclink.New(synclink.NewPebbleStore(st), synclink.Options{StorageID: "node-" + t.Name(), Name: "node", Collections: collections})
	if err != nil {
		t.Fatal(err)
	}
	sy.AddPeer(srvURL, tok)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sy.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	return &goNode{store: st, syncer: sy}
}

// field reads a root string (or Text) field; "" if absent.
func field(st *crdt.Store, id crdt.DocID, key string) string {
	var out string
	st.View(context.Background(), id, func(d *automerge.Doc, _ crdt.Meta) error {
		v, err := d.RootMap().Get(key)
		if err != nil {
			return nil
		}
		switch v.Kind() {
		case automerge.KindStr:
			out = v.Str()
		case automerge.KindText:
			out, _ = v.Text().Get()
		}
		return nil
	})
	return out
}

func waitStore(t *testing.T, st *crdt.Store, what string, cond func() bool) {
	t.Helper()
	changed := make(chan struct{}, 1)
	cancel := st.Subscribe(func(crdt.Meta) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestInteropJS runs the real automerge-repo 2.5 client (Node.js) against
// the sync server with a Go node on the other side.
func TestInteropJS(t *testing.T) {
	dir := interopDir(t)
	srv := startServer(t)
	node := startNode(t, srv.URL(), token(t, srv, "clinic:a"), "clinic:a")
	js := startJS(t, dir, srv.URL()+"?token="+token(t, srv, "clinic:a"))

	// A document created in JavaScript reaches the Go node through the
	// server, filed under the JS token's only collection.
	docURL, err := js.c.Create(`{"title":"from js","count":1}`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := crdt.ParseDocID(docURL)
	if err != nil {
		t.Fatal(err)
	}
	waitStore(t, node.store, "the JS document on the Go node", func() bool { return field(node.store, id, "title") == "from js" })
	m, err := node.store.Meta(context.Background(), id)
	if err != nil || m.Collection != "clinic:a" {
		t.Errorf("node's meta = %+v, %v; want collection clinic:a", m, err)
	}

	// The node edits it; the JS client sees the edit.
	if _, err := node.store.Update(context.Background(), id, "", func(d *automerge.Doc) error {
		return d.RootMap().Set("reply", "from go")
	}); err != nil {
		t.Fatal(err)
	}
	if got := js.do("wait "+docURL+" reply from go", 30*time.Second); got != "ok" {
		t.Fatalf("js wait: %s", got)
	}
	// And back once more.
	if got := js.do("set "+docURL+" status done", 30*time.Second); got != "ok" {
		t.Fatalf("js set: %s", got)
	}
	waitStore(t, node.store, "the JS edit on the node", func() bool { return field(node.store, id, "status") == "done" })

	// A document created by the Go node can be opened by URL in JS.
	gm, err := node.store.Create(context.Background(), "note", "clinic:a", func(d *automerge.Doc) error {
		return d.RootMap().Set("title", "from the node")
	})
	if err != nil {
		t.Fatal(err)
	}
	waitStore(t, srv.Store(), "the node's doc on the server", func() bool { return field(srv.Store(), gm.ID, "title") == "from the node" })
	if got := js.do("find "+gm.ID.URL(), 30*time.Second); !strings.Contains(got, `"title":"from the node"`) {
		t.Errorf("js find: %s", got)
	}

	// A JS client whose token grants another collection cannot open it.
	other := startJS(t, dir, srv.URL()+"?token="+token(t, srv, "clinic:b"))
	if got := other.do("find "+docURL, 30*time.Second); !strings.HasPrefix(got, "error") || !strings.Contains(strings.ToLower(got), "unavailable") {
		t.Errorf("clinic:b client opening a clinic:a doc: %s", got)
	}
}

// TestInteropWrongToken: a client with a wrong or missing token is refused
// at the upgrade.
func TestInteropWrongToken(t *testing.T) {
	dir := interopDir(t)
	srv := startServer(t)
	for _, url := range []string{srv.URL() + "?token=opt_wrong", srv.URL()} {
		cmd := exec.Command("node", "probe.mjs", url)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("probe: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "refused 401" {
			t.Errorf("%s: %s, want refused 401", url, got)
		}
	}
	cmd := exec.Command("node", "probe.mjs", srv.URL()+"?token="+token(t, srv, "clinic:a"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "open" {
		t.Errorf("probe with a valid token: %s %v", out, err)
	}
}

// TestInteropExtensionKeys: frames carrying Outpost's extension keys (the
// document's store metadata on sync messages, the extension in
// peerMetadata) decode in automerge-repo as the ordinary messages they
// are; the extra keys are ignored.
func TestInteropExtensionKeys(t *testing.T) {
	dir := interopDir(t)
	codec := wire.NewCodec()
	id := wire.EncodeDocumentID([16]byte{7})
	frames := []*wire.Message{
		{Type: wire.TypeSync, SenderID: "s", TargetID: "c", DocumentID: id, Data: []byte{0x42, 0, 0, 0, 0},
			Doc: &wire.DocInfo{Collection: "clinic:a", Type: "note"}},
		{Type: wire.TypePeer, SenderID: "s", TargetID: "c", SelectedProtocolVersion: "1",
			PeerMetadata: &wire.PeerMetadata{StorageID: "x", Outpost: &wire.OutpostMeta{Version: 1, Collections: []string{"clinic:a"}}}},
	}
	args := []string{"decode.mjs"}
	for _, m := range frames {
		b, err := codec.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, hex.EncodeToString(b))
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("decode.mjs: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		`{"type":"sync","senderId":"s","targetId":"c","documentId":"` + id + `","dataLength":5,"repoMessage":true}`,
		`{"type":"peer","senderId":"s","targetId":"c","dataLength":0,"repoMessage":false}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("decode.mjs printed %q", out)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("frame %d: automerge-repo read %s, want %s", i, lines[i], want[i])
		}
	}
}
