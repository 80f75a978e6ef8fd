package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/outposthq/outpost/crdt"
)

// startNode runs a node on 127.0.0.1:0 for the test's lifetime.
func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node Run: %v", err)
		}
	})
	return n
}

type response struct {
	status int
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url, contentType, body string) response {
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
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

const mergePatch = "application/merge-patch+json"

func TestDocAPI(t *testing.T) {
	n := startNode(t, Config{MaxDocBytes: 4096})
	base := n.URL() + "/api/v1/docs"

	r := do(t, "POST", base, "application/json", `{"type": "note", "collection": "clinic:a", "content": {"body": "Cough for 3 days.", "temp": 38.5, "meds": ["paracetamol"]}}`)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	if r.body["url"] != "automerge:"+id || r.body["type"] != "note" || r.body["collection"] != "clinic:a" || len(r.body["heads"].([]any)) != 1 {
		t.Fatalf("create response = %s", r.raw)
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if r.body[k] == nil {
			t.Fatalf("create response lacks %s: %s", k, r.raw)
		}
	}

	r = do(t, "PATCH", base+"/"+id, mergePatch, `{"body": "Dry cough for 3 days.", "temp": null, "plan": {"rest": true}}`)
	if r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	want := map[string]any{"body": "Dry cough for 3 days.", "meds": []any{"paracetamol"}, "plan": map[string]any{"rest": true}}
	if !reflect.DeepEqual(r.body["content"], want) {
		t.Fatalf("content after patch = %v", r.body["content"])
	}
	r = do(t, "GET", base+"/"+id, "", "")
	if r.status != 200 || !reflect.DeepEqual(r.body["content"], want) {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	r = do(t, "GET", base+"/"+id+"/history", "", "")
	if changes := r.body["changes"].([]any); r.status != 200 || len(changes) != 2 {
		t.Fatalf("history: %d %s", r.status, r.raw)
	}
	c0 := r.body["changes"].([]any)[1].(map[string]any)
	for _, k := range []string{"hash", "actor", "seq", "time", "message", "deps"} {
		if _, ok := c0[k]; !ok {
			t.Fatalf("history change lacks %q: %v", k, c0)
		}
	}

	unknown := crdt.NewDocID().String()
	errs := []struct {
		name, method, path, ct, body string
		status                       int
	}{
		{"bad json", "POST", "", "application/json", `{"type": "note",`, 400},
		{"not an object", "POST", "", "application/json", `[1]`, 400},
		{"no type", "POST", "", "application/json", `{"collection": "c"}`, 400},
		{"content not object", "POST", "", "application/json", `{"type": "t", "collection": "c", "content": 3}`, 400},
		{"too large", "POST", "", "application/json", `{"type": "t", "collection": "c", "content": {"x": "` + strings.Repeat("a", 5000) + `"}}`, 413},
		{"unknown doc", "GET", "/" + unknown, "", "", 404},
		{"unknown doc patch", "PATCH", "/" + unknown, mergePatch, `{"a": 1}`, 404},
		{"unknown doc history", "GET", "/" + unknown + "/history", "", "", 404},
		{"bad id", "GET", "/not-an-id", "", "", 400},
		{"bad patch", "PATCH", "/" + id, mergePatch, `{"a": `, 400},
		{"patch not object", "PATCH", "/" + id, mergePatch, `"x"`, 400},
		{"patch wrong type", "PATCH", "/" + id, "text/plain", `{"a": 1}`, 415},
		{"bad limit", "GET", "?limit=0", "", "", 400},
		{"bad cursor", "GET", "?cursor=%21%21", "", "", 400},
	}
	for _, tt := range errs {
		r := do(t, tt.method, base+tt.path, tt.ct, tt.body)
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.status, r.raw)
		}
		if msg, _ := r.body["error"].(string); msg == "" {
			t.Errorf("%s: no {\"error\": ...} body: %s", tt.name, r.raw)
		}
	}
	// Nothing above changed the document.
	r = do(t, "GET", base+"/"+id, "", "")
	if !reflect.DeepEqual(r.body["content"], want) {
		t.Fatalf("content changed by bad requests: %v", r.body["content"])
	}
	if r := do(t, "GET", n.URL()+"/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
	if r := do(t, "GET", n.URL()+"/", "", ""); r.status != 200 || !strings.Contains(r.raw, "Outpost") {
		t.Fatalf("dashboard: %d", r.status)
	}
}

func TestListDocsAPI(t *testing.T) {
	n := startNode(t, Config{})
	base := n.URL() + "/api/v1/docs"
	var ids []string
	for i := 0; i < 7; i++ {
		coll := "clinic:a"
		if i%2 == 1 {
			coll = "clinic:b"
		}
		r := do(t, "POST", base, "application/json", fmt.Sprintf(`{"type": "note", "collection": %q, "content": {"i": %d}}`, coll, i))
		ids = append(ids, r.body["id"].(string))
	}
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		r := do(t, "GET", base+"?collection=clinic:a&limit=2&cursor="+next, "", "")
		if r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.raw)
		}
		for _, d := range r.body["docs"].([]any) {
			dm := d.(map[string]any)
			if _, has := dm["content"]; has {
				t.Fatal("list items must not carry content")
			}
			got = append(got, dm["id"].(string))
		}
		next, _ = r.body["next"].(string)
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("cursor does not advance")
		}
	}
	want := []string{ids[6], ids[4], ids[2], ids[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("list newest first = %v, want %v", got, want)
	}
}

func TestConcurrentAPIWriters(t *testing.T) {
	n := startNode(t, Config{})
	base := n.URL() + "/api/v1/docs"
	r := do(t, "POST", base, "application/json", `{"type": "note", "collection": "c", "content": {"body": ""}}`)
	id := r.body["id"].(string)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				req, _ := http.NewRequest("PATCH", base+"/"+id, bytes.NewBufferString(fmt.Sprintf(`{"w%d_%d": %d}`, w, i, i)))
				req.Header.Set("Content-Type", mergePatch)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("patch status %d", resp.StatusCode)
				}
			}
		}(w)
	}
	wg.Wait()
	r = do(t, "GET", base+"/"+id, "", "")
	if got := len(r.body["content"].(map[string]any)); got != 81 {
		t.Fatalf("content has %d keys, want 81", got)
	}
}

func TestSecondNodeOnSameDataDirFails(t *testing.T) {
	dir := t.TempDir()
	startNode(t, Config{DataDir: dir})
	_, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second node on same dir: err = %v, want a clear 'in use' error", err)
	}
}

// TestPatchIfMatch checks optimistic concurrency on a document: a PATCH
// made against a version someone else has since changed is refused with
// 412 and changes nothing; against the current version it goes through.
func TestPatchIfMatch(t *testing.T) {
	n := startNode(t, Config{})
	base := n.URL() + "/api/v1/docs"
	r := do(t, "POST", base, "application/json", `{"type": "note", "collection": "c", "content": {"body": "Cough."}}`)
	id := r.body["id"].(string)
	read := func() (string, map[string]any) {
		resp, err := http.Get(base + "/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d map[string]any
		json.NewDecoder(resp.Body).Decode(&d)
		if resp.Header.Get("ETag") == "" {
			t.Fatal("GET without an ETag")
		}
		return resp.Header.Get("ETag"), d["content"].(map[string]any)
	}
	patch := func(ifMatch, body string) int {
		req, _ := http.NewRequest("PATCH", base+"/"+id, strings.NewReader(body))
		req.Header.Set("Content-Type", mergePatch)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	old, _ := read()
	if got := patch(old, `{"body": "Dry cough."}`); got != 200 {
		t.Fatalf("PATCH with the current ETag: %d", got)
	}
	if got := patch(old, `{"body": "Wet cough."}`); got != http.StatusPreconditionFailed {
		t.Fatalf("PATCH with a stale ETag: %d, want 412", got)
	}
	cur, content := read()
	if content["body"] != "Dry cough." {
		t.Fatalf("a refused PATCH changed the document: %v", content)
	}
	if cur == old {
		t.Fatal("ETag did not change with the document")
	}
	if got := patch("*", `{"plan": "rest"}`); got != 200 {
		t.Fatalf("PATCH with If-Match *: %d", got)
	}
}

func TestNodeInfo(t *testing.T) {
	n := startNode(t, Config{Name: "ward-3", DefaultModel: "tiny"})
	r := do(t, "GET", n.URL()+"/api/v1/node", "", "")
	if r.status != 200 || r.body["name"] != "ward-3" {
		t.Fatalf("node info: %d %s", r.status, r.raw)
	}
	kinds := fmt.Sprint(r.body["job_kinds"])
	for _, k := range []string{"note", "diagnose", "transcribe"} {
		if !strings.Contains(kinds, k) {
			t.Errorf("job_kinds %s lacks %s", kinds, k)
		}
	}
	llm, _ := r.body["llm"].(map[string]any)
	speech, _ := r.body["speech"].(map[string]any)
	if llm["available"] != false || llm["default_model"] != "tiny" || speech["available"] != false {
		t.Errorf("engines: llm %v, speech %v (a node without engines)", llm, speech)
	}
}

func TestListExcerpts(t *testing.T) {
	n := startNode(t, Config{})
	base := n.URL() + "/api/v1/docs"
	long := strings.Repeat("word ", 40)
	for _, body := range []string{
		`{"type": "note", "collection": "c", "content": {"subjective": "Cough\n  for three days.", "plan": "rest"}}`,
		`{"type": "note", "collection": "c", "content": {"zeta": "only text here", "n": 3}}`,
		`{"type": "transcript", "collection": "c", "content": {"text": "` + long + `"}}`,
		`{"type": "note", "collection": "c", "content": {"n": 3}}`,
	} {
		if r := do(t, "POST", base, "application/json", body); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.raw)
		}
	}
	r := do(t, "GET", base+"?excerpt=true", "", "")
	docs := r.body["docs"].([]any)
	var got []string
	for _, d := range docs {
		e, _ := d.(map[string]any)["excerpt"].(string)
		got = append(got, e)
	}
	// Newest first.
	want := []string{"", strings.TrimSpace(strings.Repeat("word ", 24)) + "…", "only text here", "Cough for three days."}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("excerpts = %q, want %q", got, want)
	}
	if plain := do(t, "GET", base, "", ""); strings.Contains(plain.raw, "excerpt") {
		t.Fatalf("excerpts without asking: %s", plain.raw)
	}
}
