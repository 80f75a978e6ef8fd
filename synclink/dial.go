package synclink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	gosync "sync"
	"time"

	"github.com/coder/websocket"

	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// DialOptions configure outgoing connections.
type DialOptions struct {
	// CAFile pins the fleet's CA: wss:// servers must present a
	// certificate signed by a CA in this PEM file (the system roots are
	// not used). Empty uses the system roots.
	CAFile string
	// TLS overrides the TLS configuration entirely (tests).
	TLS *tls.Config
}

func (o DialOptions) client() (*http.Client, error) {
	cfg := o.TLS
	if cfg == nil && o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("synclink: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("synclink: no certificates in %s", o.CAFile)
		}
		cfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if cfg == nil {
		return http.DefaultClient, nil
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}, nil
}

// dialer keeps one outgoing connection up.
type dialer struct {
	url, token string
	mu         gosync.Mutex
	state      string // connecting, connected, backoff
	lastErr    string
	retryAt    time.Time
	attempts   int
	// stop ends the dial loop (RemovePeer); set when it starts, under
	// Syncer.mu.
	stop context.CancelFunc
}

func (d *dialer) set(state, err string, retry time.Time) {
	d.mu.Lock()
	d.state, d.retryAt = state, retry
	if err != "" {
		d.lastErr = err
	}
	d.mu.Unlock()
}

// AddPeer dials url (ws:// or wss://, ending in the peer's sync endpoint)
// presenting token, and keeps reconnecting with jittered exponential
// backoff until Run's context ends. It may be called before or while Run
// runs.
func (s *Syncer) AddPeer(url, token string) {
	d := &dialer{url: url, token: token, state: "connecting"}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.dialers = append(s.mu.dialers, d)
	if ctxp := s.runCtx.Load(); ctxp != nil {
		s.startDialerLocked(*ctxp, d)
	}
}

// RemovePeer stops dialing url (as given to AddPeer) and closes its
// connection, e.g. when a discovered node moved to another address.
func (s *Syncer) RemovePeer(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.dialers = slices.DeleteFunc(s.mu.dialers, func(d *dialer) bool {
		if d.url != url {
			return false
		}
		if d.stop != nil {
			d.stop()
		}
		return true
	})
}

// startDialerLocked runs d's dial loop under ctx. s.mu is held.
func (s *Syncer) startDialerLocked(ctx context.Context, d *dialer) {
	ctx, d.stop = context.WithCancel(ctx)
	go s.dialLoop(ctx, d)
}

func (s *Syncer) dialLoop(ctx context.Context, d *dialer) {
	b := newBackoff(s.opts.BackoffMin, s.opts.BackoffMax)
	for ctx.Err() == nil {
		d.set("connecting", "", time.Time{})
		err := s.dialOnce(ctx, d, b)
		if ctx.Err() != nil {
			return
		}
		wait := b.next()
		msg := ""
		if err != nil {
			msg = err.Error()
			s.log.Info("sync: connection failed", "url", d.url, "err", err, "retry_in", wait)
		}
		d.set("backoff", msg, time.Now().Add(wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// dialOnce connects, runs the handshake and serves the connection until it
// ends. It returns why it ended.
func (s *Syncer) dialOnce(ctx context.Context, d *dialer, b *backoff) error {
	hc, err := s.opts.Dial.client()
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.attempts++
	d.mu.Unlock()
	hdr := http.Header{}
	if d.token != "" {
		hdr.Set("Authorization", "Bearer "+d.token)
	}
	dctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	ws, resp, err := websocket.Dial(dctx, d.url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: hdr})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return errors.New("refused: the token is missing, unknown or revoked (401)")
		}
		return err
	}
	ws.SetReadLimit(wire.MaxFrame)
	peer, err := s.dialHandshake(ctx, ws)
	if err != nil {
		ws.Close(websocket.StatusProtocolError, truncate(err.Error(), 120))
		return err
	}
	b.reset()
	grants := s.opts.Collections
	if grants == nil {
		grants = []string{"*"}
	}
	c := newConn(s, ws, sync.PeerInfo{ID: peer.SenderID, Metadata: peer.PeerMetadata, Grants: grants, Trusted: s.opts.Verify == nil || !s.opts.VerifyDialed}, true, d.url)
	d.set("connected", "", time.Time{})
	s.runConn(ctx, c)
	reason, _ := c.err.Load().(string)
	if reason == "" {
		reason = "connection closed"
	}
	return errors.New(reason)
}
