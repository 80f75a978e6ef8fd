package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/verify"
	"github.com/outposthq/outpost/inference/prompts"
	"github.com/outposthq/outpost/inference/registry"
	"github.com/outposthq/outpost/inference/whisper"
	"github.com/outposthq/outpost/node/jobs"
	"github.com/outposthq/outpost/synclink"
	"github.com/outposthq/outpost/web"
)

// Config describes a node.
type Config struct {
	// DataDir holds the store (DataDir/store) and everything else the node keeps.
	DataDir string
	// Listen is the HTTP address, e.g. 127.0.0.1:7420 (port 0 picks one).
	Listen string
	// Name identifies the node to people and peers; it is recorded as the
	// producer of results.
	Name string
	// Logger; nil discards.
	Logger *slog.Logger
	// MaxDocBytes bounds a document request body (default 8 MiB).
	MaxDocBytes int64
	// Store tunes the document store (compaction thresholds, cache); its
	// Logger and Verify are set by the node.
	Store crdt.Options
	// Jobs tunes the job queue; its Logger is set by the node.
	Jobs jobs.Options
	// Generator runs language models for note, diagnose and maintenance
	// jobs and /v1/chat/completions; nil disables them.
	Generator Generator
	// Speech transcribes audio for /v1/audio/transcriptions and transcribe
	// jobs; nil disables them.
	Speech Transcriber
	// DefaultSpeechModel is used when a request names no (or OpenAI's) model.
	DefaultSpeechModel string
	// SpeechDefaults are the decoding options requests start from (the
	// zero value is openai/whisper's defaults).
	SpeechDefaults whisper.Options
	// MaxAudioBytes bounds an audio upload (default 512 MiB).
	MaxAudioBytes int64
	// Models is the node's model registry (listed by /v1/models).
	Models *registry.Registry
	// DefaultModel is used by jobs that name no model.
	DefaultModel string
	// ModelSHA256 returns a model's file hash, recorded as provenance.
	ModelSHA256 func(name string) string
	// Sync configures sync with servers and peers.
	Sync SyncConfig
	// TLSCert and TLSKey, both set, serve HTTPS (and wss:// sync).
	TLSCert, TLSKey string
	// Executors adds job kinds beyond the built-in ones (tests, plugins):
	// each constructor is given the node.
	Executors map[string]func(*Node) jobs.Executor
}

// Node is a running node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *crdt.Store
	verifier *verify.Verifier
	jobs     *jobs.Queue
	gen      Generator
	speech   Transcriber
	tokens   *access.Store
	syncer   *synclink.Syncer
	prompts  *prompts.Set
	echo     *echo.Echo
	ln       net.Listener
	started  time.Time
}

// New opens the node's store and binds its listener.
func New(cfg Config) (*Node, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: no data directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "outpost"
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("node: --tls-cert and --tls-key go together")
	}
	if cfg.MaxDocBytes <= 0 {
		cfg.MaxDocBytes = 8 << 20
	}
	if cfg.MaxAudioBytes <= 0 {
		cfg.MaxAudioBytes = 512 << 20
	}
	v, err := verify.New(verify.Options{})
	if err != nil {
		return nil, err
	}
	sopts := cfg.Store
	sopts.Logger = cfg.Logger.With("component", "store")
	sopts.Verify = v.Chunks
	store, err := crdt.Open(filepath.Join(cfg.DataDir, "store"), sopts)
	if err != nil {
		v.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		store.Close()
		v.Close()
		return nil, fmt.Errorf("node: listen on %s: %w", cfg.Listen, err)
	}
	ps, err := prompts.Load(filepath.Join(cfg.DataDir, "templates"))
	if err != nil {
		ln.Close()
		store.Close()
		v.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, store: store, verifier: v, ln: ln, started: time.Now(), gen: cfg.Generator, prompts: ps, speech: cfg.Speech}
	jopts := cfg.Jobs
	jopts.Logger = cfg.Logger.With("component", "jobs")
	if jopts.Lanes == nil {
		jopts.Lanes = map[string]int{"short": 1}
	}
	n.jobs = jobs.New(store.DB(), jopts)
	n.tokens = access.New(store.DB(), crdt.PrefixTokens)
	if n.syncer, err = n.newSyncer(); err != nil {
		n.Close()
		return nil, err
	}
	for kind, e := range n.structuredKinds() {
		n.jobs.Register(kind, e)
	}
	n.jobs.Register("transcribe", transcribeExec{n})
	for kind, mk := range cfg.Executors {
		n.jobs.Register(kind, mk(n))
	}
	n.echo = n.routes()
	return n, nil
}

// Addr is the address the node listens on.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// URL is the node's base URL.
func (n *Node) URL() string {
	if n.cfg.TLSCert != "" {
		return "https://" + n.ln.Addr().String()
	}
	return "http://" + n.ln.Addr().String()
}

// SyncURL is the node's sync endpoint, for peers to dial.
func (n *Node) SyncURL() string {
	if n.cfg.TLSCert != "" {
		return "wss://" + n.ln.Addr().String() + "/sync"
	}
	return "ws://" + n.ln.Addr().String() + "/sync"
}

// Jobs is the node's job queue.
func (n *Node) Jobs() *jobs.Queue { return n.jobs }

// Store is the node's document store.
func (n *Node) Store() *crdt.Store { return n.store }

// Handler is the node's HTTP handler (API and dashboard).
func (n *Node) Handler() http.Handler { return n.echo }

// Run serves until ctx is cancelled, then shuts down gracefully.
func (n *Node) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           n.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	if err := n.jobs.Start(ctx); err != nil {
		n.Close()
		return fmt.Errorf("node: start job queue: %w", err)
	}
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan error, 1)
	go func() { syncDone <- n.syncer.Run(syncCtx) }()
	for _, r := range n.cfg.Sync.Servers {
		n.syncer.AddPeer(r.URL, r.Token)
	}
	for _, r := range n.cfg.Sync.Peers {
		n.syncer.AddPeer(r.URL, r.Token)
	}
	n.startDiscovery(syncCtx)
	var admin net.Listener
	if l, err := access.ListenAdmin(n.cfg.DataDir); err == nil {
		admin = l
		go access.ServeAdmin(syncCtx, l, n.tokens)
	} else {
		n.log.Warn("no admin socket: stop the node to manage tokens", "err", err)
	}
	errc := make(chan error, 1)
	go func() {
		if n.cfg.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			errc <- srv.ServeTLS(n.ln, n.cfg.TLSCert, n.cfg.TLSKey)
			return
		}
		errc <- srv.Serve(n.ln)
	}()
	n.log.Info("node listening", "url", n.URL(), "name", n.cfg.Name, "data", n.cfg.DataDir)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	n.log.Info("node shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		n.log.Warn("shutdown", "err", err)
	}
	n.jobs.Stop()
	stopSync()
	<-syncDone
	if admin != nil {
		admin.Close()
	}
	if err := n.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// Close releases the store and the listener.
func (n *Node) Close() error {
	n.ln.Close()
	err := n.store.Close()
	n.verifier.Close()
	if errors.Is(err, crdt.ErrClosed) {
		return nil
	}
	return err
}

func (n *Node) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = n.httpError
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"status": "ok", "name": n.cfg.Name})
	})
	api := e.Group("/api/v1")
	n.docRoutes(api)
	n.jobRoutes(api)
	api.GET("/node", n.getNodeInfo)
	n.syncRoutes(e, api)
	n.openAIRoutes(e)
	n.speechRoutes(e, api)
	web.Mount(e)
	return e
}

func (n *Node) getNodeInfo(c echo.Context) error {
	// What the node can do, so that a client (the dashboard) can say so
	// before a user uploads audio to a node without a speech engine.
	return c.JSON(http.StatusOK, map[string]any{
		"name":       n.cfg.Name,
		"started_at": n.started.UTC(),
		"data_dir":   n.cfg.DataDir,
		"job_kinds":  n.jobs.Kinds(),
		"llm": map[string]any{
			"available":     n.gen != nil,
			"default_model": n.defaultModel(registry.KindLLM),
		},
		"speech": map[string]any{
			"available":     n.speech != nil,
			"default_model": n.defaultModel(registry.KindWhisper),
		},
	})
}
