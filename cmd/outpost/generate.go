package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/outposthq/outpost/inference/registry"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/outposthq/outpost/inference/llm"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// runGenerate is `outpost generate --model M "prompt"`: one generation
// through the same engine the node uses, streamed to stdout.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		model       = fs.String("model", "", "registry name (with --data) or GGUF file path")
		data        = fs.String("data", "./data", "data directory whose registry resolves --model names")
		maxTokens   = fs.Int("max-tokens", 256, "maximum tokens to generate (0: until the context is full)")
		temperature = fs.Float64("temperature", 0.8, "sampling temperature (0: greedy)")
		topP        = fs.Float64("top-p", 0.95, "nucleus sampling threshold (1: off)")
		topK        = fs.Int("top-k", 40, "top-k sampling (0: off)")
		seed        = fs.Int64("seed", -1, "sampling seed (-1: random)")
		schemaFile  = fs.String("json-schema", "", "file with a JSON schema the output must satisfy")
		system      = fs.String("system", "", "system message")
		raw         = fs.Bool("raw", false, "send the prompt as is, without the chat template")
		threads     = fs.Int("threads", 0, "CPU threads (0: all cores)")
		ctxSize     = fs.Int("ctx", 4096, "context size in tokens")
		verbose     = fs.Bool("v", false, "log engine and llama.cpp details to stderr")
		stops       stringList
	)
	fs.Var(&stops, "stop", "stop sequence (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: outpost generate --model M [flags] \"prompt\"   (prompt \"-\" reads stdin)\n\nflags:")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("generate: need a prompt")
	}
	path, err := resolveModelFile(*model, *data, registry.KindLLM)
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	prompt := strings.Join(pos, " ")
	if prompt == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		prompt = string(b)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger) // llama.cpp's log lines go through the default logger

	req := llm.Request{
		Model: path, MaxTokens: *maxTokens, Temperature: float32(*temperature),
		TopP: float32(*topP), TopK: *topK, Seed: *seed, Stop: stops,
	}
	if *raw {
		req.Prompt = prompt
	} else {
		if *system != "" {
			req.Messages = append(req.Messages, llm.Message{Role: "system", Content: *system})
		}
		req.Messages = append(req.Messages, llm.Message{Role: "user", Content: prompt})
	}
	if *schemaFile != "" {
		b, err := os.ReadFile(*schemaFile)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("generate: %s is not JSON", *schemaFile)
		}
		req.JSONSchema = b
	}
	eng := llm.New(llm.Options{
		Threads: *threads, Parallel: 1, ContextSize: *ctxSize, Logger: logger,
	})
	defer eng.Close()
	resp, err := eng.Generate(ctx, req, func(t llm.Token) error {
		_, err := io.WriteString(stdout, t.Text)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	tm := resp.Timings
	fmt.Fprintf(stderr, "%d prompt tokens (%.1f tok/s), %d generated (%.1f tok/s), finish %s, load %v\n",
		resp.PromptTokens, rate(resp.PromptTokens, tm.Prompt.Seconds()),
		resp.CompletionTokens, rate(resp.CompletionTokens-1, tm.Generate.Seconds()), resp.FinishReason, tm.Load.Round(1e6))
	return nil
}

func rate(n int, secs float64) float64 {
	if secs <= 0 || n <= 0 {
		return 0
	}
	return float64(n) / secs
}
