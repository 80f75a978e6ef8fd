package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/outposthq/outpost/inference/cpuslot"
	"github.com/outposthq/outpost/inference/llm"
	"github.com/outposthq/outpost/inference/registry"
	"github.com/outposthq/outpost/inference/speech"
	"github.com/outposthq/outpost/node"
)

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outpost node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	var (
		data        = fs.String("data", "./data", "data directory (created if missing)")
		listen      = fs.String("listen", "127.0.0.1:7420", "HTTP listen address for the API and dashboard")
		name        = fs.String("name", host, "node name, shown to people and peers and recorded on results")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		model       = fs.String("model", "", "default language model for note, diagnose and maintenance jobs (a name from 'outpost models list')")
		speechModel = fs.String("speech-model", "", "default Whisper model for transcription")
		threads     = fs.Int("threads", 0, "CPU threads for inference (default: all cores)")
		memory      = fs.String("memory", "", "memory budget for loaded language models, e.g. 6GiB (default: 3/4 of RAM)")
		server      = fs.String("server", "", "sync server to sync with, e.g. wss://hub.example:7430/sync")
		token       = fs.String("token", "", "access token for --server (from 'outpost token create' on the server)")
		peerToken   = fs.String("peer-token", "", "access token for --peer nodes (or put ?token= in each peer URL)")
		tlsCert     = fs.String("tls-cert", "", "TLS certificate (PEM): serve HTTPS and wss:// (with --tls-key)")
		tlsKey      = fs.String("tls-key", "", "TLS private key (PEM)")
		caFile      = fs.String("ca", "", "pin the fleet's CA (PEM) for wss:// servers and peers")
		discover    = fs.Bool("discover", false, "find other nodes on the LAN with mDNS/DNS-SD (_outpost._tcp) and sync with them directly; listen on a LAN address for them to reach this one")
		discoverTok = fs.String("discover-token", "", "access token for discovered nodes (default: --peer-token)")
		peers       listFlag
		collections listFlag
	)
	fs.Var(&peers, "peer", "another node to sync with directly, e.g. ws://10.0.0.7:7420/sync (repeatable)")
	fs.Var(&collections, "collection", "collection this node holds and syncs, e.g. clinic:a (repeatable; default: all it is granted)")
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
	budget, err := parseBytes(*memory)
	if err != nil {
		return fmt.Errorf("--memory: %w", err)
	}
	reg, err := openRegistry(*data)
	if err != nil {
		return err
	}
	// Models are looked up by name in the data dir's registry, each engine
	// only accepting its own kind.
	resolve := func(kind registry.Kind) func(string) (string, error) {
		return func(name string) (string, error) {
			e, err := reg.Get(name)
			if err != nil {
				return "", err
			}
			if e.Kind != kind {
				return "", fmt.Errorf("model %q is a %s model, not %s", name, e.Kind, kind)
			}
			return e.Path, nil
		}
	}
	// Both engines use every core; they take turns step by step.
	slot := cpuslot.New()
	engine := llm.New(llm.Options{Threads: *threads, MemoryBudget: budget, Logger: logger.With("component", "llm"),
		Resolve: resolve(registry.KindLLM), Exclusive: slot.Acquire})
	defer engine.Close()
	stt := speech.New(speech.Options{Threads: *threads, ModelPath: resolve(registry.KindWhisper),
		Logger: logger.With("component", "speech"), Exclusive: slot.Acquire})
	defer stt.Close()
	sc := node.SyncConfig{Collections: collections, CAFile: *caFile}
	if *server != "" {
		sc.Servers = append(sc.Servers, node.Remote{URL: *server, Token: *token})
	} else if *token != "" {
		return errors.New("--token goes with --server")
	}
	for _, p := range peers {
		sc.Peers = append(sc.Peers, node.Remote{URL: p, Token: *peerToken})
	}
	if *discover {
		sc.Discover = &node.Discover{Token: *discoverTok}
		if sc.Discover.Token == "" {
			sc.Discover.Token = *peerToken
		}
	} else if *discoverTok != "" {
		return errors.New("--discover-token goes with --discover")
	}
	n, err := node.New(node.Config{
		DataDir: *data, Listen: *listen, Name: *name, Logger: logger,
		Sync: sc, TLSCert: *tlsCert, TLSKey: *tlsKey,
		Generator: engine, DefaultModel: *model, Models: reg,
		Speech: stt, DefaultSpeechModel: *speechModel,
		ModelSHA256: func(name string) string {
			e, err := reg.Get(name)
			if err != nil {
				return ""
			}
			return e.SHA256
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "outpost node %q: dashboard and API at %s (data in %s)\n", *name, n.URL(), *data)
	return n.Run(ctx)
}

// listFlag is a repeatable string flag; commas also separate values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// parseBytes reads sizes such as 512MiB, 6GiB, 6G or plain bytes.
func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := 1.0
	for _, x := range units {
		if strings.HasSuffix(u, x.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, x.suffix)), x.mult
			break
		}
	}
	v, err := strconv.ParseFloat(u, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q (e.g. 6GiB)", s)
	}
	return int64(v * mult), nil
}

// newLogger returns the process's logger and makes it the default too,
// for the libraries that log through slog's default logger (ollama's ggml
// backend, llama.cpp's callback): their lines come out in the same format,
// with their chatter (CPU features, layer placement) demoted to debug.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, fmt.Errorf("bad -log-level %q: want debug, info, warn or error", level)
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})
	slog.SetDefault(slog.New(libraryHandler{h}))
	return slog.New(h), nil
}

// libraryHandler logs what libraries call information as debug.
type libraryHandler struct{ slog.Handler }

func (h libraryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

func (h libraryHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h libraryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return libraryHandler{h.Handler.WithAttrs(as)}
}

func (h libraryHandler) WithGroup(name string) slog.Handler {
	return libraryHandler{h.Handler.WithGroup(name)}
}

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}
