package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/outposthq/outpost/node"
)

// The tests drive the real dashboard in a real headless Chromium against a
// real node: one browser for the package, one tab per test.

// browser is the package's Chromium, started by TestMain; err says why
// there is none, and every test fails with it.
var browser struct {
	ctx context.Context
	err error
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	path, err := findChrome()
	if err != nil {
		browser.err = err
		return m.Run()
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox (CI runs as root).
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("starting %s: %w", path, err)
		return m.Run()
	}
	browser.ctx = ctx
	return m.Run()
}

func findChrome() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH: the dashboard's browser tests need one; run `make setup` (it installs Debian's chromium)")
}

// page is one tab on the dashboard of one node.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string // the node's URL

	mu     sync.Mutex
	errors []string // uncaught exceptions and console errors
}

// openPage opens a tab for the test; the test fails if the page throws.
func openPage(t *testing.T, base string) *page {
	t.Helper()
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	tab, cancelTab := chromedp.NewContext(browser.ctx)
	ctx, cancel := context.WithTimeout(tab, 25*time.Second)
	p := &page{t: t, ctx: ctx, base: base}
	t.Cleanup(func() {
		cancel()
		cancelTab()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errors {
			t.Errorf("page error: %s", e)
		}
	})
	err := chromedp.Listen(tab, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error()
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(parts, " ")
		default:
			return
		}
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goTo loads the dashboard at a location hash and waits until the view is up.
func (p *page) goTo(hash string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + "/" + hash))
	p.waitJS("the dashboard to load", `document.querySelector("main > section[data-view]:not([hidden])") !== null`)
}

// route changes the location hash in the loaded page, as a link would.
func (p *page) route(hash string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`location.hash = %s`, jsString(hash)))
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v\n%s", err, p.state())
	}
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

// typeInto replaces a field's text by typing, as a person would: select
// what is there, then type over it (or delete it).
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(f => { f.focus(); f.select(); })(document.querySelector(%s))`, jsString(sel)))
	if text == "" {
		text = kb.Delete
	}
	p.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (p *page) eval(expr string) any {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v\n%s", expr, err, p.state())
	}
	return v
}

func (p *page) strings(expr string) []string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v\n%s", expr, err, p.state())
	}
	return v
}

func (p *page) text(sel string) string {
	p.t.Helper()
	s, _ := p.eval(fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ""`, jsString(sel))).(string)
	return s
}

// waitJS waits, without sleeping in Go, until expr is truthy in the page.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		p.t.Fatalf("waiting for %s (%s): %v\n%s", what, expr, err, p.state())
	}
}

// waitText waits until the element's text contains want.
func (p *page) waitText(sel, want string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf("%s to show %q", sel, want),
		fmt.Sprintf(`((document.querySelector(%s) || {}).textContent || "").includes(%s)`, jsString(sel), jsString(want)))
}

// alerts is the text of every message in the page's alert region.
func (p *page) alerts() []string {
	p.t.Helper()
	return p.strings(`Array.from(document.querySelectorAll("#alerts .alert")).map(a => a.textContent)`)
}

func (p *page) noAlerts() {
	p.t.Helper()
	if a := p.alerts(); len(a) > 0 {
		p.t.Fatalf("unexpected alerts: %q", a)
	}
}

// state describes the page for a failure message.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + " | alerts: " + document.querySelector("#alerts").textContent + " | main: " + document.querySelector("main").innerText.slice(0, 1500)`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return "page " + v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// --- The node ------------------------------------------------------------------

// startNode runs a node on 127.0.0.1:0 with a fresh data directory; stop
// ends it early (it is also stopped when the test ends).
func startNode(t *testing.T, cfg node.Config) (n *node.Node, stop func()) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Name == "" {
		cfg.Name = "web-test"
	}
	cfg.Listen = "127.0.0.1:0"
	n, err := node.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// call makes an API request and decodes the JSON answer into out (if not nil).
func call(t *testing.T, method, url, contentType, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type doc struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Collection string         `json:"collection"`
	Heads      []string       `json:"heads"`
	Content    map[string]any `json:"content"`
}

func createDoc(t *testing.T, n *node.Node, typ, coll string, content map[string]any) doc {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": typ, "collection": coll, "content": content})
	var d doc
	if st := call(t, "POST", n.URL()+"/api/v1/docs", "application/json", string(body), &d); st != http.StatusCreated {
		t.Fatalf("create doc: status %d", st)
	}
	return d
}

func getDoc(t *testing.T, n *node.Node, id string) doc {
	t.Helper()
	var d doc
	if st := call(t, "GET", n.URL()+"/api/v1/docs/"+id, "", "", &d); st != http.StatusOK {
		t.Fatalf("get doc %s: status %d", id, st)
	}
	return d
}

type job struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	State  string `json:"state"`
	Error  string `json:"error"`
	Result string `json:"result"`
}

func getJob(t *testing.T, n *node.Node, id string) job {
	t.Helper()
	var j job
	if st := call(t, "GET", n.URL()+"/api/v1/jobs/"+id, "", "", &j); st != http.StatusOK {
		t.Fatalf("get job %s: status %d", id, st)
	}
	return j
}
