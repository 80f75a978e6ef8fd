package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/interop"
)

// TestAutomergeRepoClientSyncsWithNode connects an unmodified
// automerge-repo client (Node.js, as a browser app would be) straight to a
// node's /sync, with a token made on the node: what it creates shows up in
// the node's API, an edit through the API reaches it, and a document of a
// collection its token does not grant stays out of its reach.
func TestAutomergeRepoClientSyncsWithNode(t *testing.T) {
	dir, err := interop.Dir(filepath.Join("..", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := startNode(t, Config{Name: "clinic-laptop", Sync: SyncConfig{Collections: []string{"clinic:a", "clinic:b"}}})
	tok, _, err := n.Tokens().Create(ctx, "tablet", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	js, err := interop.StartRepoClient(dir, n.SyncURL()+"?token="+tok)
	if err != nil {
		t.Fatal(err)
	}
	defer js.Close()
	do1 := func(cmd string) string {
		t.Helper()
		reply, err := js.Do(cmd, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return reply
	}

	docURL, err := js.Create(`{"type":"note","body":"Fever since Monday."}`, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := crdt.ParseDocID(docURL)
	if err != nil {
		t.Fatal(err)
	}
	awaitContent(t, n, id, "body", "Fever since Monday.")
	if r := do(t, "GET", n.URL()+"/api/v1/docs/"+id.String(), "", ""); r.body["collection"] != "clinic:a" {
		t.Errorf("the client's document is in collection %v, want its token's clinic:a", r.body["collection"])
	}

	if r := do(t, "PATCH", n.URL()+"/api/v1/docs/"+id.String(), mergePatch, `{"status": "seen"}`); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.raw)
	}
	if got := do1("wait " + docURL + " status seen"); got != "ok" {
		t.Fatalf("the API's edit did not reach the client: %s", got)
	}

	r := do(t, "POST", n.URL()+"/api/v1/docs", "application/json", `{"type": "note", "collection": "clinic:b", "content": {"body": "other clinic"}}`)
	other, err := crdt.ParseDocID(r.body["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if got := do1("find " + other.URL()); !strings.HasPrefix(got, "error") || !strings.Contains(strings.ToLower(got), "unavailable") {
		t.Errorf("a clinic:a client opened a clinic:b document: %s", got)
	}
}
