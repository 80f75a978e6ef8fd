package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/registry"
)

// OpenAI-compatible endpoints, so existing clients and SDKs can use a node.

func (n *Node) openAIRoutes(e *echo.Echo) {
	e.POST("/v1/chat/completions", n.chatCompletions)
	e.GET("/v1/models", n.openAIModels)
	e.GET("/api/v1/models", n.listModels)
}

type chatRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages"`
	N             *int          `json:"n"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float32        `json:"temperature"`
	TopP                *float32        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	IgnoreEOS           bool            `json:"ignore_eos"` // llama.cpp server's extension, for throughput tests
	ResponseFormat      *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

// chatMessage is an OpenAI chat message. SDKs send content either as a
// string or as a list of typed parts; a text-only model takes the text
// parts, joined, and refuses the rest rather than answer without them.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

func (m chatMessage) toLLM(i int) (llm.Message, error) {
	role := m.Role
	if role == "developer" {
		role = "system" // OpenAI's newer name for the system prompt
	}
	out := llm.Message{Role: role}
	if len(m.Content) == 0 || string(m.Content) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(m.Content, &out.Content); err == nil {
		return out, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return out, badRequest("message %d: \"content\" must be a string or an array of content parts", i)
	}
	var texts []string
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return out, badRequest("message %d part %d: content part type %q is not supported (only text)", i, j, p.Type)
		}
		texts = append(texts, *p.Text)
	}
	out.Content = strings.Join(texts, "\n")
	return out, nil
}

// toLLM maps an OpenAI request onto the engine's, with OpenAI's defaults
// (temperature 1, nucleus sampling off).
func (r *chatRequest) toLLM() (llm.Request, error) {
	req := llm.Request{Model: r.Model, Temperature: 1, Seed: -1}
	if r.Model == "" {
		return req, badRequest(`"model" is required`)
	}
	if len(r.Messages) == 0 {
		return req, badRequest(`"messages" must not be empty`)
	}
	for i, m := range r.Messages {
		lm, err := m.toLLM(i)
		if err != nil {
			return req, err
		}
		req.Messages = append(req.Messages, lm)
	}
	if r.N != nil && *r.N != 1 {
		return req, badRequest(`"n" must be 1: one choice per request`)
	}
	if r.MaxCompletionTokens != nil {
		req.MaxTokens = *r.MaxCompletionTokens
	} else if r.MaxTokens != nil {
		req.MaxTokens = *r.MaxTokens
	}
	if r.Temperature != nil {
		req.Temperature = *r.Temperature
	}
	if r.TopP != nil {
		req.TopP = *r.TopP
	}
	if r.Seed != nil {
		req.Seed = *r.Seed
	}
	req.IgnoreEOS = r.IgnoreEOS
	if len(r.Stop) > 0 && string(r.Stop) != "null" {
		var one string
		if err := json.Unmarshal(r.Stop, &one); err == nil {
			req.Stop = []string{one}
		} else if err := json.Unmarshal(r.Stop, &req.Stop); err != nil {
			return req, badRequest(`"stop" must be a string or an array of strings`)
		}
	}
	if rf := r.ResponseFormat; rf != nil {
		switch rf.Type {
		case "", "text":
		case "json_object":
			req.JSONSchema = json.RawMessage(`{"type": "object"}`)
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return req, badRequest(`response_format json_schema needs "json_schema": {"schema": {...}}`)
			}
			req.JSONSchema = rf.JSONSchema.Schema
		default:
			return req, badRequest("response_format type %q is not supported (text, json_object, json_schema)", rf.Type)
		}
	}
	return req, nil
}

func llmError(err error) error {
	switch {
	case errors.Is(err, llm.ErrBadRequest):
		return badRequest("%v", err)
	case errors.Is(err, registry.ErrNotFound):
		return &apiError{http.StatusNotFound, err.Error()}
	case errors.Is(err, llm.ErrModelTooLarge):
		return &apiError{http.StatusInsufficientStorage, err.Error()}
	case errors.Is(err, llm.ErrBadModel), errors.Is(err, llm.ErrInvalidOutput):
		return &apiError{http.StatusUnprocessableEntity, err.Error()}
	}
	return err
}

func completionID() string {
	var b [12]byte
	rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

func (n *Node) chatCompletions(c echo.Context) error {
	if n.gen == nil {
		return &apiError{http.StatusServiceUnavailable, "this node has no language model engine"}
	}
	body, err := readBody(c, n.cfg.MaxDocBytes)
	if err != nil {
		return err
	}
	var cr chatRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		return badRequest("invalid request: %v", err)
	}
	req, err := cr.toLLM()
	if err != nil {
		return err
	}
	id, created := completionID(), time.Now().Unix()
	if !cr.Stream {
		resp, err := n.gen.Generate(c.Request().Context(), req, nil)
		if err != nil {
			return llmError(err)
		}
		return c.JSON(http.StatusOK, map[string]any{
			"id": id, "object": "chat.completion", "created": created, "model": cr.Model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": resp.Text},
				"finish_reason": resp.FinishReason,
			}},
			"usage": usage(resp),
		})
	}

	// Server-sent events: headers go out with the first token, so errors
	// before it are still plain JSON errors.
	w := c.Response()
	started := false
	chunk := func(delta map[string]any, finish any, extra map[string]any) error {
		if !started {
			w.Header().Set(echo.HeaderContentType, "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		m := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": cr.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	first := true
	resp, err := n.gen.Generate(c.Request().Context(), req, func(t llm.Token) error {
		delta := map[string]any{"content": t.Text}
		if first {
			delta["role"] = "assistant"
			first = false
		}
		return chunk(delta, nil, nil)
	})
	if err != nil {
		if !started {
			return llmError(err)
		}
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		fmt.Fprintf(w, "data: %s\n\n", b)
		return nil
	}
	if err := chunk(map[string]any{}, resp.FinishReason, nil); err != nil {
		return nil
	}
	if cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": cr.Model,
			"choices": []any{}, "usage": usage(resp),
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	w.Flush()
	return nil
}

func usage(r llm.Response) map[string]int {
	return map[string]int{
		"prompt_tokens": r.PromptTokens, "completion_tokens": r.CompletionTokens,
		"total_tokens": r.PromptTokens + r.CompletionTokens,
	}
}

func (n *Node) models() ([]registry.Entry, error) {
	if n.cfg.Models == nil {
		return nil, nil
	}
	return n.cfg.Models.List()
}

func (n *Node) openAIModels(c echo.Context) error {
	entries, err := n.models()
	if err != nil {
		return err
	}
	data := make([]map[string]any, 0, len(entries))
	for _, e := range entries {
		data = append(data, map[string]any{"id": e.Name, "object": "model", "created": e.Added.Unix(), "owned_by": "outpost", "kind": e.Kind})
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (n *Node) listModels(c echo.Context) error {
	entries, err := n.models()
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []registry.Entry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"models": entries})
}
