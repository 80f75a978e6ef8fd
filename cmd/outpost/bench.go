package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
)

// benchmark is one `outpost bench NAME`. Each prints JSON lines on stdout:
// one per measurement, with the baseline it is compared against measured in
// the same run.
type benchmark struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func benchmarks() []benchmark {
	return []benchmark{
		{"store", "document store appends and loads against raw Pebble and in-memory automerge", runBenchStore},
		{"whisper", "Whisper on random-weight tiny/base/small: real-time factor, encoder vs ggml matmul GFLOP/s, decoder tok/s", runBenchWhisper},
		{"llm", "LLM engine vs bare llama.cpp loop (prompt, generation tok/s) and 4 concurrent requests vs 1", runBenchLLM},
		{"sync", "cold sync of 10,000 docs server to empty node and 1% reconnect, vs automerge-repo's Node.js server and client", runBenchSync},
	}
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// A profile of the whole run, for finding where a benchmark's time goes:
	// outpost bench --cpuprofile FILE NAME [flags].
	if len(args) >= 2 && (args[0] == "--cpuprofile" || args[0] == "-cpuprofile") {
		stop, err := startCPUProfile(args[1])
		if err != nil {
			return err
		}
		defer stop()
		args = args[2:]
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		benchUsage(stderr)
		return flag.ErrHelp
	}
	if args[0] == "all" {
		for _, b := range benchmarks() {
			fmt.Fprintf(stderr, "bench %s\n", b.name)
			if err := b.run(ctx, args[1:], stdout, stderr); err != nil {
				return fmt.Errorf("bench %s: %w", b.name, err)
			}
		}
		return nil
	}
	for _, b := range benchmarks() {
		if b.name == args[0] {
			return b.run(ctx, args[1:], stdout, stderr)
		}
	}
	benchUsage(stderr)
	return fmt.Errorf("unknown benchmark %q", args[0])
}

func benchUsage(w io.Writer) {
	var names []string
	for _, b := range benchmarks() {
		names = append(names, b.name)
	}
	fmt.Fprintf(w, "usage: outpost bench [--cpuprofile FILE] all|%s [flags]\n\n", strings.Join(names, "|"))
	for _, b := range benchmarks() {
		fmt.Fprintf(w, "  %-8s %s\n", b.name, b.summary)
	}
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
