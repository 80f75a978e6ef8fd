package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/outposthq/outpost/crdt/storebench"
)

func runBenchStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost bench store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o storebench.Options
	fs.StringVar(&o.Dir, "dir", "", "scratch directory (default: a temporary one, removed after)")
	fs.IntVar(&o.Appends, "appends", 100000, "change appends")
	fs.IntVar(&o.Docs, "docs", 1000, "documents the appends spread over")
	fs.IntVar(&o.Writers, "writers", 8, "concurrent writers")
	fs.IntVar(&o.Rounds, "rounds", 5, "alternating store and raw Pebble rounds (the median ratio is reported)")
	fs.IntVar(&o.LoadChanges, "load-changes", 10000, "changes in the document whose load is timed")
	fs.IntVar(&o.LoadRepeats, "load-repeats", 20, "timed loads per variant (the minimum is reported)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Progress = func(format string, a ...any) { fmt.Fprintf(stderr, "bench store: "+format+"\n", a...) }
	enc := json.NewEncoder(stdout)
	return storebench.Run(ctx, o, func(r storebench.Result) { enc.Encode(r) })
}
