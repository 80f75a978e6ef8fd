package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/outposthq/outpost/node"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	var (
		data     = fs.String("data", "./data", "data directory (created if missing)")
		listen   = fs.String("listen", "127.0.0.1:7420", "HTTP listen address for the API and dashboard")
		name     = fs.String("name", host, "node name, shown to people and peers and recorded on results")
		logLevel = fs.String("log-level", "info", "debug, info, warn or error")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: outpost node [flags]\n\nRuns a node: document store, HTTP API and dashboard.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("node: unexpected arguments %q", fs.Args())
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	n, err := node.New(node.Config{DataDir: *data, Listen: *listen, Name: *name, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "outpost node %q: dashboard and API at %s (data in %s)\n", *name, n.URL(), *data)
	return n.Run(ctx)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("bad -log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
