// Command outpost runs an Outpost node or sync server and talks to running
// nodes. main only dispatches: each subcommand lives in its own file with its
// own flag set and a Run-style function.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists every subcommand in the order the usage text shows them.
func commands() []command {
	return []command{
		{"node", "run a node: document store, sync, jobs, HTTP API and dashboard", runNode},
		{"doc", "create, read, list, edit documents on a running node", runDoc},
		{"jobs", "list, show, cancel and submit jobs on a running node", runJobs},
		{"transcribe", "transcribe an audio file with a Whisper model", runTranscribe},
		{"models", "pull, import, list, inspect, remove and generate test models", runModels},
		{"generate", "generate text with an LLM, streamed to the terminal", runGenerate},
		{"syncserver", "run a sync server: nodes and automerge-repo clients sync through it", runSyncServer},
		{"token", "create, list and revoke sync tokens", runToken},
		{"bench", "run benchmarks and print JSON lines", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "outpost:", err)
	os.Exit(1)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: outpost <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'outpost <command> -h' for a command's flags.")
}
