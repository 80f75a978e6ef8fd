package access

import (
	"context"
	"net/http"
	"strings"
)

// FromRequest returns the token a request presents: an Authorization
// Bearer header, or else a token query parameter (browsers cannot set
// headers on WebSocket connections).
func FromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("token")
}

// Authenticate checks the token a request presents.
func (s *Store) Authenticate(r *http.Request) (Token, error) {
	return s.Check(r.Context(), FromRequest(r))
}

// Checker is what handlers need to authenticate a request; *Store is one.
type Checker interface {
	Check(ctx context.Context, secret string) (Token, error)
}
