package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/outposthq/outpost/inference/whisper/whisperbench"
)

// runBenchWhisper is `outpost bench whisper`.
func runBenchWhisper(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost bench whisper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o whisperbench.Options
	sizes := fs.String("sizes", "tiny,base,small", "comma-separated model sizes (random weights)")
	types := fs.String("types", "f16,q8_0", "comma-separated weight types")
	durations := fs.String("durations", "30s,10m", "comma-separated audio durations")
	fs.IntVar(&o.Threads, "threads", 0, "CPU threads (default all)")
	fs.IntVar(&o.TokensPerWindow, "tokens", 100, "tokens decoded per 30 s window")
	fs.IntVar(&o.MatmulReps, "matmul-reps", 3, "timed runs of the matmul baseline (best kept)")
	fs.StringVar(&o.Dir, "dir", "", "directory for the generated models (default: temporary)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Sizes = whisperSplitList(*sizes)
	o.Types = whisperSplitList(*types)
	for _, s := range whisperSplitList(*durations) {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("bench whisper: bad duration %q", s)
		}
		o.Durations = append(o.Durations, d)
	}
	o.Progress = func(format string, a ...any) { fmt.Fprintf(stderr, "bench whisper: "+format+"\n", a...) }
	whisperQuietLogs()
	enc := json.NewEncoder(stdout)
	return whisperbench.Run(ctx, o, func(r whisperbench.Result) { enc.Encode(r) })
}

func whisperSplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
