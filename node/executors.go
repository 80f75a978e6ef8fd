package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/outposthq/outpost/inference/registry"
	"strings"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/node/jobs"
)

// Generator is the LLM engine as the node uses it (llm.Engine).
type Generator interface {
	Generate(ctx context.Context, req llm.Request, onToken func(llm.Token) error) (llm.Response, error)
}

// structured is a job kind that reads a source document, renders a prompt
// template, asks the model for JSON that fits the template's schema and
// writes the answer as a new document beside the source, with provenance.
type structured struct {
	n          *Node
	template   string // default template name
	resultType string
	// data builds the template's input from the source document's content.
	data func(content map[string]any) (any, error)
	// finish adds fields the model must not decide (confirmation status).
	finish func(out map[string]any)
}

func (n *Node) structuredKinds() map[string]*structured {
	text := func(c map[string]any) (any, error) {
		for _, k := range []string{"text", "body", "log"} {
			if s, ok := c[k].(string); ok && strings.TrimSpace(s) != "" {
				return map[string]any{"Text": s}, nil
			}
		}
		return nil, errors.New(`source document has no "text" to work from`)
	}
	note := func(c map[string]any) (any, error) {
		fields := map[string]any{}
		found := false
		for _, k := range []string{"subjective", "objective", "assessment", "plan"} {
			s, _ := c[k].(string)
			if s != "" {
				found = true
			} else {
				s = "not documented"
			}
			fields[k] = s
		}
		if !found {
			return nil, errors.New("source document is not a clinical note (no subjective, objective, assessment or plan)")
		}
		return map[string]any{"Note": fields}, nil
	}
	return map[string]*structured{
		"note": {n: n, template: "note", resultType: "note", data: text},
		"diagnose": {n: n, template: "diagnose", resultType: "diagnosis", data: note,
			finish: func(out map[string]any) {
				// Suggestions, never diagnoses: a clinician must confirm.
				out["requires_clinician_confirmation"] = true
				out["status"] = "unconfirmed"
			}},
		"maintenance": {n: n, template: "maintenance", resultType: "maintenance_report", data: text},
	}
}

type docInput struct {
	DocID string `json:"doc_id"`
}

func (e *structured) Run(ctx context.Context, j *jobs.Job, progress func(float64)) (string, error) {
	n := e.n
	if n.gen == nil {
		return "", errors.New("this node has no language model engine")
	}
	var in docInput
	if err := json.Unmarshal(j.Input, &in); err != nil || in.DocID == "" {
		return "", fmt.Errorf(`input must be {"doc_id": "..."}`)
	}
	src, err := crdt.ParseDocID(in.DocID)
	if err != nil {
		return "", err
	}
	resultID := jobs.ResultID(j.ID)
	if m, err := n.store.Meta(ctx, resultID); err == nil {
		return m.ID.String(), nil // written by an attempt that was interrupted after
	}
	var (
		content map[string]any
		meta    crdt.Meta
	)
	err = n.store.View(ctx, src, func(d *automerge.Doc, m crdt.Meta) error {
		meta = m
		content, err = crdt.Content(d)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("source document: %w", err)
	}
	name := j.Template
	if name == "" {
		name = e.template
	}
	tmpl, err := n.prompts.Get(name)
	if err != nil {
		return "", err
	}
	data, err := e.data(content)
	if err != nil {
		return "", err
	}
	system, user, err := tmpl.Render(data)
	if err != nil {
		return "", err
	}
	model := j.Model
	if model == "" {
		model = n.defaultModel(registry.KindLLM)
	}
	if model == "" {
		return "", errors.New(`no model: give the job a "model", start the node with --model, or install exactly one language model`)
	}
	msgs := []llm.Message{{Role: "user", Content: user}}
	if system != "" {
		msgs = append([]llm.Message{{Role: "system", Content: system}}, msgs...)
	}
	const maxTokens = 1024
	produced := 0
	resp, err := n.gen.Generate(ctx, llm.Request{
		Model: model, Messages: msgs, JSONSchema: tmpl.Schema, MaxTokens: maxTokens,
	}, func(llm.Token) error {
		produced++
		progress(min(0.99, float64(produced)/maxTokens))
		return nil
	})
	if err != nil {
		return "", err
	}
	if resp.FinishReason == "length" {
		return "", fmt.Errorf("%w: the model's answer was cut off after %d tokens", llm.ErrInvalidOutput, resp.CompletionTokens)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Text), &out); err != nil {
		return "", fmt.Errorf("%w: model output is not a JSON object: %v", llm.ErrInvalidOutput, err)
	}
	out["source"] = src.URL()
	out["provenance"] = map[string]any{
		"node":            n.cfg.Name,
		"model":           model,
		"model_sha256":    n.modelSHA256(model),
		"template":        tmpl.Name,
		"template_sha256": tmpl.SHA256,
		"job_id":          j.ID,
		"produced_at":     time.Now().UTC().Format(time.RFC3339Nano),
		"prompt_tokens":   resp.PromptTokens,
		"output_tokens":   resp.CompletionTokens,
	}
	if e.finish != nil {
		e.finish(out)
	}
	body, err := crdt.DecodeJSON(mustJSON(out))
	if err != nil {
		return "", err
	}
	_, err = n.store.CreateWithID(ctx, resultID, e.resultType, meta.Collection, func(d *automerge.Doc) error {
		return crdt.SetContent(d, body)
	})
	if err != nil && !errors.Is(err, crdt.ErrExists) {
		return "", err
	}
	return resultID.String(), nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // values built from decoded JSON always encode
	}
	return b
}

// modelSHA256 is the model file's hash for provenance ("" if unknown).
func (n *Node) modelSHA256(name string) string {
	if n.cfg.ModelSHA256 == nil {
		return ""
	}
	return n.cfg.ModelSHA256(name)
}
