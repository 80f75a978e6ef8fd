package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/inference/whisper/whispertest"
)

// testgenWhisper writes a random-weight Whisper model in whisper.cpp's file
// layout (`outpost models testgen --kind whisper`).
func testgenWhisper(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost models testgen --kind whisper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		size = fs.String("size", "tiny", "model dimensions: "+strings.Join(whispertest.Sizes(), ", "))
		typ  = fs.String("type", "f16", "weight type: "+strings.Join(whispertest.Types(), ", "))
		out  = fs.String("out", "", "output file (default "+whispertest.FileName("SIZE", "TYPE")+")")
		seed = fs.Uint64("seed", 1, "random seed; equal flags give identical files")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: outpost models testgen --kind whisper [flags]\n\n"+
			"Writes a Whisper model with random weights (real dimensions, GPT-2-like vocabulary)\n"+
			"in whisper.cpp's ggml file layout. Its vocabulary marks it as random-weight, which\n"+
			"inspection reports. It exercises the engine but transcribes nothing.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("testgen whisper: unexpected arguments %q", fs.Args())
	}
	h, err := whispertest.Preset(*size, *typ)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = whispertest.FileName(*size, *typ)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := whispertest.WriteFile(path, h, *seed); err != nil {
		return err
	}
	info, err := whisper.Inspect(path)
	if err != nil {
		return fmt.Errorf("testgen whisper: the written file does not validate: %w", err)
	}
	return json.NewEncoder(stdout).Encode(struct {
		Path string `json:"path"`
		whisper.Info
	}{path, info})
}
