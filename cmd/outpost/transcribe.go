package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/outposthq/outpost/inference/registry"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/outposthq/outpost/inference/audio"
	"github.com/outposthq/outpost/inference/whisper"
)

// runTranscribe is `outpost transcribe --model M FILE`.
func runTranscribe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost transcribe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		model     = fs.String("model", "", "whisper.cpp model file (ggml-*.bin), or a model name in --data's registry")
		format    = fs.String("format", "text", "output: "+strings.Join(whisper.Formats, ", "))
		language  = fs.String("language", "", "spoken language code or name (default: detect)")
		prompt    = fs.String("prompt", "", "text that conditions the first window (names, spelling)")
		translate = fs.Bool("translate", false, "translate into English")
		beam      = fs.Int("beam", 0, "beam search width (0: greedy)")
		threads   = fs.Int("threads", 0, "CPU threads (default: all cores)")
		data      = fs.String("data", "./data", "node data directory whose registry resolves --model names (without --model: its only Whisper model)")
		verbose   = fs.Bool("v", false, "log ggml's messages")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: outpost transcribe --model M [flags] FILE\n\n"+
			"Transcribes a WAV, MP3, FLAC or Ogg Vorbis file with a Whisper model.\n\nflags:")
		fs.PrintDefaults()
	}
	// Flags may follow the file too ("transcribe --model m a.wav --format srt").
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("transcribe: want exactly one audio file")
	}
	if !*verbose {
		whisperQuietLogs()
	}
	path, err := resolveModelFile(*model, *data, registry.KindWhisper)
	if err != nil {
		return fmt.Errorf("transcribe: %w", err)
	}
	samples, info, err := audio.DecodeFile(files[0])
	if err != nil {
		return err
	}
	m, err := whisper.Load(ctx, path, whisper.LoadOptions{Threads: *threads})
	if err != nil {
		return err
	}
	defer m.Close()

	opts := whisper.Options{Language: *language, Prompt: *prompt, Translate: *translate, BeamSize: *beam}
	if info.Duration > 30*time.Second {
		start := time.Now()
		opts.Progress = func(p whisper.Progress) {
			fmt.Fprintf(stderr, "transcribe: %s of %s (%d windows, %s elapsed)\n",
				time.Duration(p.Seconds*float64(time.Second)).Round(time.Second),
				time.Duration(p.Duration*float64(time.Second)).Round(time.Second),
				p.Windows, time.Since(start).Round(time.Second))
		}
	}
	r, err := m.Transcribe(ctx, samples, opts)
	if err != nil {
		return err
	}
	return r.Write(stdout, *format)
}

// whisperQuietLogs keeps ggml's and ollama's informational logging (device
// lists, layer offloading) off the terminal; they log through slog's
// default logger.
func whisperQuietLogs() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
