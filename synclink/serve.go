package synclink

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/coder/websocket"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// Serve handles the sync endpoint: it authenticates the request (Bearer
// header or ?token=), upgrades it to a WebSocket, runs the handshake and
// keeps the connection until it ends.
func (s *Syncer) Serve(w http.ResponseWriter, r *http.Request) {
	ctxp := s.runCtx.Load()
	if !s.running.Load() || ctxp == nil {
		httpError(w, http.StatusServiceUnavailable, "sync is not running")
		return
	}
	runCtx := *ctxp
	grants := []string{"*"}
	tokenID := ""
	if s.opts.Tokens != nil {
		tok, err := s.opts.Tokens.Check(r.Context(), access.FromRequest(r))
		if err != nil {
			s.log.Warn("sync: connection refused", "remote", r.RemoteAddr, "err", err)
			if errors.Is(err, access.ErrUnauthorized) {
				httpError(w, http.StatusUnauthorized, "a valid sync token is required")
			} else {
				httpError(w, http.StatusInternalServerError, "checking the token failed")
			}
			return
		}
		grants, tokenID = tok.Collections, tok.ID
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Tokens, not cookies, authenticate, so any origin may connect:
		// browsers on other origins are automerge-repo clients too.
		OriginPatterns: []string{"*"},
	})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	ws.SetReadLimit(wire.MaxFrame)
	// The connection lives as long as Run, not as long as the request.
	ctx, cancel := context.WithCancel(runCtx)
	defer cancel()
	join, err := s.acceptHandshake(ctx, ws)
	if err != nil {
		s.log.Info("sync: handshake failed", "remote", r.RemoteAddr, "err", err)
		ws.CloseNow()
		return
	}
	c := newConn(s, ws, sync.PeerInfo{ID: join.SenderID, Metadata: join.PeerMetadata, Grants: grants, Trusted: s.opts.Verify == nil}, false, r.RemoteAddr)
	s.log.Info("sync: accepted", "peer", join.SenderID, "remote", r.RemoteAddr, "token", tokenID)
	s.runConn(ctx, c)
}

// runConn registers a connection with the loop and serves it until it
// ends.
func (s *Syncer) runConn(ctx context.Context, c *conn) {
	if !s.post(ctx, event{kind: evUp, c: c}) {
		c.close(websocket.StatusGoingAway, "shutting down")
		return
	}
	go c.writeLoop(ctx)
	go c.pingLoop(ctx)
	c.readLoop(ctx)
	<-c.done
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
