package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/outposthq/outpost/inference/llm/llmbench"
)

// runBenchLLM is `outpost bench llm`: prompt and generation tok/s through
// the engine (as the node calls it) and through a bare decode loop over the
// same llama package, plus N concurrent requests against one.
func runBenchLLM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost bench llm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o llmbench.Options
	models := fs.String("models", "25M,300M", "comma-separated model sizes (random weights)")
	quants := fs.String("quants", "q8_0,q4_0", "comma-separated weight types")
	fs.IntVar(&o.Threads, "threads", 0, "CPU threads (default all)")
	fs.IntVar(&o.PromptTokens, "prompt-tokens", 256, "prompt length in tokens")
	fs.IntVar(&o.GenTokens, "gen-tokens", 128, "tokens generated per request")
	fs.IntVar(&o.Repeat, "repeat", 0, "timed runs per measurement; ratios are medians of paired runs (default 9, 15 for models under 100M parameters)")
	fs.IntVar(&o.Concurrent, "concurrent", 4, "requests in the concurrency measurement")
	fs.StringVar(&o.Dir, "dir", "", "directory caching the generated models (default: $TMPDIR/outpost-bench-llm)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Models = splitList(*models)
	o.Quants = splitList(*quants)
	o.Progress = func(format string, a ...any) { fmt.Fprintf(stderr, "bench llm: "+format+"\n", a...) }
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	enc := json.NewEncoder(stdout)
	return llmbench.Run(ctx, o, func(r llmbench.Result) { enc.Encode(r) })
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
