package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/outposthq/outpost/inference/gguf"
	"github.com/outposthq/outpost/inference/randllama"
)

// testgenKinds maps `outpost models testgen --kind K` to the writer of that
// kind of random-weight model.
func testgenKinds() map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"llama":   testgenLlama,
		"whisper": testgenWhisper,
	}
}

func modelsTestgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	kinds := testgenKinds()
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	// --kind is taken out here; the rest of the flags belong to the kind.
	kind := ""
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--kind" || a == "-kind":
			if i+1 < len(args) {
				kind = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--kind=") || strings.HasPrefix(a, "-kind="):
			kind = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	run := kinds[kind]
	if run == nil {
		fmt.Fprintf(stderr, "usage: outpost models testgen --kind %s [flags]\n\n"+
			"Writes a model with random weights for tests, benchmarks and bug reports.\n"+
			"Run with --kind K -h for that kind's flags.\n", strings.Join(names, "|"))
		if kind == "" {
			return flag.ErrHelp
		}
		return fmt.Errorf("models testgen: unknown kind %q", kind)
	}
	return run(ctx, rest, stdout, stderr)
}

// testgenLlama writes a random-weight llama GGUF
// (`outpost models testgen --kind llama --params 25M --quant q8_0 --out FILE`).
func testgenLlama(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost models testgen --kind llama", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		params  = fs.String("params", "25M", "size: tiny, 25M, 300M, or a count such as 100M or 1.5B")
		quant   = fs.String("quant", "q8_0", "matrix type: f16, q8_0 or q4_0")
		out     = fs.String("out", "", "output file (default random-llama-PARAMS-QUANT.gguf)")
		seed    = fs.Uint64("seed", 1, "random seed; equal flags give identical files")
		embed   = fs.Int("embed", 0, "override: embedding width")
		layers  = fs.Int("layers", 0, "override: number of layers")
		heads   = fs.Int("heads", 0, "override: attention heads")
		kvHeads = fs.Int("kv-heads", 0, "override: key/value heads")
		ffn     = fs.Int("ffn", 0, "override: feed-forward width")
		vocab   = fs.Int("vocab", 0, "override: vocabulary size")
		context = fs.Int("context", 0, "override: trained context length")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: outpost models testgen --kind llama [flags]\n\n"+
			"Writes a llama-architecture GGUF with random weights, a small SentencePiece\n"+
			"vocabulary (with the 256 byte tokens) and a ChatML template. Its metadata says\n"+
			"the weights are random; it generates gibberish at a real model's speed.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("testgen llama: unexpected arguments %q", fs.Args())
	}
	cfg, err := randllama.Preset(*params)
	if err != nil {
		return err
	}
	if cfg.Type, err = gguf.ParseTensorType(*quant); err != nil {
		return err
	}
	for _, o := range []struct {
		v   int
		dst *int
	}{{*embed, &cfg.Embed}, {*layers, &cfg.Layers}, {*heads, &cfg.Heads}, {*kvHeads, &cfg.KVHeads}, {*ffn, &cfg.FFN}, {*vocab, &cfg.Vocab}, {*context, &cfg.Context}} {
		if o.v < 0 {
			return errors.New("testgen llama: dimensions must be positive")
		}
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	if *heads > 0 && *kvHeads == 0 {
		cfg.KVHeads = cfg.Heads
	}
	cfg.Seed = *seed
	if err := cfg.Validate(); err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = fmt.Sprintf("random-llama-%s-%s.gguf", *params, strings.ToLower(cfg.Type.String()))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := randllama.WriteFile(path, cfg); err != nil {
		return err
	}
	f, err := gguf.ReadFile(path)
	if err != nil {
		return fmt.Errorf("testgen llama: the written file does not validate: %w", err)
	}
	return json.NewEncoder(stdout).Encode(map[string]any{
		"path": path, "params": f.ParamCount(), "type": cfg.Type.String(), "embed": cfg.Embed,
		"layers": cfg.Layers, "heads": cfg.Heads, "kv_heads": cfg.KVHeads, "ffn": cfg.FFN,
		"vocab": cfg.Vocab, "context": cfg.Context, "seed": cfg.Seed, "random_weights": true,
	})
}
