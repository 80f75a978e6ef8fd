package access

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, 'k')
}

func TestCreateCheckRevoke(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	secret, tok, err := s.Create(ctx, "clinic laptops", []string{"clinic:a", " clinic:b", "clinic:a", ""})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 {
		t.Errorf("secret %q: want %s + 43 base64url characters", secret, TokenPrefix)
	}
	if got := strings.Join(tok.Collections, ","); got != "clinic:a,clinic:b" {
		t.Errorf("collections = %s", got)
	}
	got, err := s.Check(ctx, secret)
	if err != nil || got.ID != tok.ID || !got.Grants("clinic:b") || got.Grants("clinic:c") {
		t.Fatalf("Check = %+v, %v", got, err)
	}
	// The secret is nowhere in the database.
	it, _ := s.db.NewIter(nil)
	for ok := it.First(); ok; ok = it.Next() {
		if strings.Contains(string(it.Key())+string(it.Value()), secret[len(TokenPrefix):]) {
			t.Error("the token secret is stored in the clear")
		}
	}
	it.Close()

	for _, bad := range []string{"", "opt_", secret + "x", "Bearer " + secret, strings.Repeat("opt_", 100)} {
		if _, err := s.Check(ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Check(%q) = %v, want ErrUnauthorized", bad, err)
		}
	}
	second, _, err := s.Create(ctx, "other", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := s.Revoke(ctx, tok.ID)
	if err != nil || len(revoked) != 1 {
		t.Fatalf("Revoke = %v, %v", revoked, err)
	}
	if _, err := s.Check(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoked token accepted: %v", err)
	}
	if tk, err := s.Check(ctx, second); err != nil || !tk.Grants("anything") {
		t.Errorf("the other token: %+v %v", tk, err)
	}
	if _, err := s.Revoke(ctx, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke = %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || list[0].Active() || !list[1].Active() {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestCreateRejects(t *testing.T) {
	s := newStore(t)
	tests := []struct {
		name  string
		colls []string
	}{
		{"", []string{"a"}},
		{"x", nil},
		{"x", []string{" ", ""}},
		{"x", []string{"a\x00b"}},
		{strings.Repeat("n", 300), []string{"a"}},
	}
	for _, tt := range tests {
		if _, _, err := s.Create(context.Background(), tt.name, tt.colls); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q, %q) = %v, want ErrInvalid", tt.name, tt.colls, err)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/sync?token=opt_q", nil)
	if got := FromRequest(r); got != "opt_q" {
		t.Errorf("query token = %q", got)
	}
	r.Header.Set("Authorization", "Bearer opt_h")
	if got := FromRequest(r); got != "opt_h" {
		t.Errorf("header wins: got %q", got)
	}
}

func TestAdminSocket(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	l, err := ListenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeAdmin(ctx, l, s) }()
	c := Dial(dir)
	secret, _, err := c.Create(ctx, "n", []string{"clinic:a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Create(ctx, "", []string{"x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad create over the socket: %v", err)
	}
	if ts, err := c.List(ctx); err != nil || len(ts) != 1 {
		t.Errorf("List = %v %v", ts, err)
	}
	if _, err := c.Revoke(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke(ctx, "n"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
