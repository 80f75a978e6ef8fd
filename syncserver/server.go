package syncserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	gosync "sync"
	"time"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/verify"
	"github.com/outposthq/outpost/synclink"
)

// Config configures a Server.
type Config struct {
	// Data is the data directory; the Pebble store is Data/store.
	Data string
	// Listen is the address to listen on, host:port.
	Listen string
	// TLSCert and TLSKey, both set, make the listener HTTPS (wss://).
	TLSCert, TLSKey string
	// Name is announced to peers; default "syncserver".
	Name string
	// NoVerify skips vetting peers' Automerge bytes in a worker process
	// (benchmarks of trusted peers only).
	NoVerify bool
	Logger   *slog.Logger
	// StoreOptions are passed to crdt.Open (tests: an in-memory FS).
	StoreOptions crdt.Options
}

// Server is a running sync server.
type Server struct {
	cfg      Config
	store    *crdt.Store
	tokens   *access.Store
	syncer   *synclink.Syncer
	verifier *verify.Verifier
	ln       net.Listener
	log      *slog.Logger
}

// Open opens the data directory and prepares the listener.
func Open(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "syncserver"
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("syncserver: --tls-cert and --tls-key go together")
	}
	so := cfg.StoreOptions
	if so.Logger == nil {
		so.Logger = cfg.Logger
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	var verifyFn func(string, *automerge.Doc, []byte) error
	if !cfg.NoVerify {
		v, err := verify.New(verify.Options{})
		if err != nil {
			return nil, err
		}
		// A hub's vetting comes in bursts (a node reconnecting after
		// days offline): have the workers ready before the first one.
		if err := v.Start(); err != nil {
			v.Close()
			return nil, err
		}
		s.verifier = v
		so.Verify = v.Chunks
		verifyFn = synclink.VerifyWith(v)
	}
	// The store lives in DATA/store, as a node's does, so that `outpost
	// token --data DATA` finds it before the server has ever run.
	st, err := crdt.Open(filepath.Join(cfg.Data, "store"), so)
	if err != nil {
		s.closeVerifier()
		return nil, err
	}
	s.store = st
	s.tokens = access.New(st.DB(), crdt.PrefixTokens)
	sid, err := synclink.StorageID(st.DB())
	if err != nil {
		s.close()
		return nil, err
	}
	s.syncer, err = synclink.New(synclink.NewPebbleStore(st), synclink.Options{
		StorageID: sid,
		Name:      cfg.Name,
		Tokens:    s.tokens,
		Verify:    verifyFn,
		Logger:    cfg.Logger,
	})
	if err != nil {
		s.close()
		return nil, err
	}
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("syncserver: %w", err)
	}
	return s, nil
}

func (s *Server) closeVerifier() {
	if s.verifier != nil {
		s.verifier.Close()
	}
}

func (s *Server) close() {
	if s.ln != nil {
		s.ln.Close()
	}
	s.store.Close()
	s.closeVerifier()
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the sync endpoint's WebSocket URL.
func (s *Server) URL() string {
	scheme := "ws"
	if s.cfg.TLSCert != "" {
		scheme = "wss"
	}
	return fmt.Sprintf("%s://%s/sync", scheme, s.ln.Addr())
}

// Store is the server's document store.
func (s *Server) Store() *crdt.Store { return s.store }

// Tokens is the server's token store.
func (s *Server) Tokens() *access.Store { return s.tokens }

// Syncer is the server's sync loop.
func (s *Server) Syncer() *synclink.Syncer { return s.syncer }

// Handler serves /sync (automerge-repo WebSocket protocol), /healthz and
// GET /api/v1/sync (peers and their state).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/sync", s.syncer.Serve)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/v1/sync", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.tokens.Authenticate(r); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "a valid token is required"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"peer_id": s.syncer.PeerID(), "peers": s.syncer.Status()})
	})
	return mux
}

// Run serves until ctx ends, then shuts down and closes the store.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg gosync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(1)
	go func() { defer wg.Done(); errc <- s.syncer.Run(ctx) }()
	if admin, err := access.ListenAdmin(s.cfg.Data); err == nil {
		wg.Add(1)
		go func() { defer wg.Done(); errc <- access.ServeAdmin(ctx, admin, s.tokens) }()
	} else {
		s.log.Warn("syncserver: no admin socket; stop the server to manage tokens", "err", err)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		var err error
		if s.cfg.TLSCert != "" {
			hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = hs.ServeTLS(s.ln, s.cfg.TLSCert, s.cfg.TLSKey)
		} else {
			err = hs.Serve(s.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	s.log.Info("syncserver: listening", "url", s.URL())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	// The store closes only after everything using it has stopped.
	wg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
