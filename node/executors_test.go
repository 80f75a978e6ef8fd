package node

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/node/jobs"
)

// scriptedGen answers every request with fixed JSON and records requests.
// It stands in for the engine to test the node's wiring; the engine itself
// is exercised on generated models in TestNoteJobRealEngine.
type scriptedGen struct {
	reply string
	reqs  chan llm.Request
}

func (g *scriptedGen) Generate(ctx context.Context, req llm.Request, onToken func(llm.Token) error) (llm.Response, error) {
	g.reqs <- req
	for _, w := range strings.Fields(g.reply) {
		if err := onToken(llm.Token{Text: w}); err != nil {
			return llm.Response{}, err
		}
	}
	return llm.Response{Text: g.reply, FinishReason: "stop"}, nil
}

func TestNoteAndDiagnoseJobs(t *testing.T) {
	gen := &scriptedGen{reqs: make(chan llm.Request, 10)}
	n := startNode(t, Config{Name: "clinic-laptop", Generator: gen, DefaultModel: "tiny",
		ModelSHA256: func(string) string { return "abc123" }})
	base := n.URL() + "/api/v1"
	r := do(t, "POST", base+"/docs", "application/json", `{"type": "transcript", "collection": "clinic:a", "content": {"text": "Patient reports cough for three days, temperature 38.5."}}`)
	src := r.body["id"].(string)

	gen.reply = `{"subjective": "cough 3 days", "objective": "T 38.5", "assessment": "LRTI", "plan": "rest", "medications": [], "follow_up": "3 days"}`
	r = do(t, "POST", base+"/jobs", "application/json", `{"kind": "note", "input": {"doc_id": "`+src+`"}}`)
	if r.status != 202 {
		t.Fatalf("submit: %d %s", r.status, r.raw)
	}
	job := waitJob(t, n, r.body["id"].(string))
	req := <-gen.reqs
	if req.Model != "tiny" || len(req.JSONSchema) == 0 || !strings.Contains(req.Messages[len(req.Messages)-1].Content, "cough for three days") {
		t.Fatalf("engine request = %+v", req)
	}
	r = do(t, "GET", base+"/docs/"+job.Result, "", "")
	c := r.body["content"].(map[string]any)
	prov := c["provenance"].(map[string]any)
	if r.body["type"] != "note" || r.body["collection"] != "clinic:a" || c["assessment"] != "LRTI" ||
		c["source"] != "automerge:"+src || prov["node"] != "clinic-laptop" || prov["model_sha256"] != "abc123" || prov["job_id"] != job.ID {
		t.Fatalf("note document = %s", r.raw)
	}

	gen.reply = `{"suggestions": [{"condition": "Community-acquired pneumonia", "icd10": "J18.9", "likelihood": "moderate", "rationale": "fever and cough", "red_flags": ["SpO2 < 92%"]}]}`
	r = do(t, "POST", base+"/jobs", "application/json", `{"kind": "diagnose", "input": {"doc_id": "`+job.Result+`"}}`)
	dj := waitJob(t, n, r.body["id"].(string))
	<-gen.reqs
	r = do(t, "GET", base+"/docs/"+dj.Result, "", "")
	c = r.body["content"].(map[string]any)
	if r.body["type"] != "diagnosis" || c["requires_clinician_confirmation"] != true || c["status"] != "unconfirmed" {
		t.Fatalf("diagnosis document = %s", r.raw)
	}

	// A job on a document that is not a note fails with a clear error.
	r = do(t, "POST", base+"/jobs", "application/json", `{"kind": "diagnose", "input": {"doc_id": "`+src+`"}}`)
	fj := waitJob(t, n, r.body["id"].(string))
	if fj.State != "failed" || !strings.Contains(fj.Error, "not a clinical note") {
		t.Fatalf("diagnose on transcript: %+v", fj)
	}
}

type jobView struct {
	ID, State, Result, Error string
}

// waitJob waits for a job to finish, using the queue's notifications.
func waitJob(t *testing.T, n *Node, id string) jobView {
	t.Helper()
	done := make(chan struct{}, 1)
	unsub := n.Jobs().Subscribe(func(j jobs.Job) {
		if j.ID == id && j.State.Terminal() {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	if j, _ := n.Jobs().Get(context.Background(), id); !j.State.Terminal() {
		<-done
	}
	j, err := n.Jobs().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(j)
	var v jobView
	json.Unmarshal(b, &v)
	return v
}
