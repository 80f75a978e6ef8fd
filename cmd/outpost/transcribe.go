package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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
		model     = fs.String("model", "", "whisper.cpp model file (ggml-*.bin), or a model name with --data")
		format    = fs.String("format", "text", "output: "+strings.Join(whisper.Formats, ", "))
		language  = fs.String("language", "", "spoken language code or name (default: detect)")
		prompt    = fs.String("prompt", "", "text that conditions the first window (names, spelling)")
		translate = fs.Bool("translate", false, "translate into English")
		beam      = fs.Int("beam", 0, "beam search width (0: greedy)")
		threads   = fs.Int("threads", runtime.NumCPU(), "CPU threads")
		data      = fs.String("data", "", "node data directory, to resolve --model by name")
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
	if *model == "" {
		return errors.New("transcribe: --model is required")
	}
	if !*verbose {
		whisperQuietLogs()
	}
	path, err := resolveWhisperModel(*model, *data)
	if err != nil {
		return err
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

// resolveWhisperModel maps --model to a file: an existing path is used as
// is. Registry names will resolve through --data once the model registry
// is wired in.
func resolveWhisperModel(model, data string) (string, error) {
	if _, err := os.Stat(model); err == nil {
		return model, nil
	}
	if data != "" {
		for _, p := range []string{
			filepath.Join(data, "models", model),
			filepath.Join(data, "models", model+".bin"),
		} {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("transcribe: model %q is not a file (and not found under --data)", model)
}

// whisperQuietLogs keeps ggml's and ollama's informational logging (device
// lists, layer offloading) off the terminal; they log through slog's
// default logger.
func whisperQuietLogs() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
