package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A running server holds its data directory's lock, so `outpost token`
// cannot open the store while it runs. The server then serves token
// management on a Unix socket in the data directory, AdminSocket, whose file
// permissions (owner only) are the authentication: whoever may read the data
// directory may manage its tokens.

// AdminSocket is the socket's file name inside the data directory.
const AdminSocket = "admin.sock"

// AdminHandler serves token management for Client over the admin socket.
func AdminHandler(s *Store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokens", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name        string   `json:"name"`
			Collections []string `json:"collections"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		secret, t, err := s.Create(r.Context(), req.Name, req.Collections)
		if err != nil {
			writeErr(w, statusOf(err), err)
			return
		}
		writeJSON(w, struct {
			Token  string `json:"token"`
			Record Token  `json:"record"`
		}{secret, t})
	})
	mux.HandleFunc("GET /tokens", func(w http.ResponseWriter, r *http.Request) {
		ts, err := s.List(r.Context())
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, ts)
	})
	mux.HandleFunc("POST /tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			writeErr(w, http.StatusBadRequest, err)
			return
		}
		ts, err := s.Revoke(r.Context(), req.Token)
		if err != nil {
			writeErr(w, statusOf(err), err)
			return
		}
		writeJSON(w, ts)
	})
	return mux
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// ListenAdmin creates the admin socket in dir (the caller holds the data
// directory's lock, so a socket file left there is stale).
func ListenAdmin(dir string) (net.Listener, error) {
	path := filepath.Join(dir, AdminSocket)
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("access: admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("access: admin socket: %w", err)
	}
	return l, nil
}

// ServeAdmin serves AdminHandler on l until ctx ends, then removes the
// socket.
func ServeAdmin(ctx context.Context, l net.Listener, s *Store) error {
	srv := &http.Server{Handler: AdminHandler(s), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Client manages tokens through a running server's admin socket.
type Client struct {
	hc *http.Client
}

// Dial returns a client for the admin socket in dir.
func Dial(dir string) *Client {
	path := filepath.Join(dir, AdminSocket)
	return &Client{hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("access: admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		err := errors.New(e.Error)
		switch resp.StatusCode {
		case http.StatusBadRequest:
			err = fmt.Errorf("%w: %s", ErrInvalid, e.Error)
		case http.StatusNotFound:
			err = fmt.Errorf("%w: %s", ErrNotFound, e.Error)
		}
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Create is Store.Create through the server.
func (c *Client) Create(ctx context.Context, name string, collections []string) (string, Token, error) {
	var out struct {
		Token  string `json:"token"`
		Record Token  `json:"record"`
	}
	err := c.do(ctx, http.MethodPost, "/tokens", map[string]any{"name": name, "collections": collections}, &out)
	return out.Token, out.Record, err
}

// List is Store.List through the server.
func (c *Client) List(ctx context.Context) ([]Token, error) {
	var out []Token
	err := c.do(ctx, http.MethodGet, "/tokens", nil, &out)
	return out, err
}

// Revoke is Store.Revoke through the server.
func (c *Client) Revoke(ctx context.Context, idOrName string) ([]Token, error) {
	var out []Token
	err := c.do(ctx, http.MethodPost, "/tokens/revoke", map[string]string{"token": idOrName}, &out)
	return out, err
}
