package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// TokenPrefix starts every token.
const TokenPrefix = "opt_"

// keyHash is the second key byte of token records, after the store prefix.
const keyHash = 'h'

var (
	// ErrUnauthorized is returned for a missing, unknown or revoked token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound is returned by Revoke for a token that does not exist.
	ErrNotFound = errors.New("token not found")
	// ErrInvalid is returned for a bad name or collection list.
	ErrInvalid = errors.New("invalid token request")
)

// Token is a stored token's record; it never holds the secret.
type Token struct {
	// ID is the first 12 hex digits of the secret's SHA-256: enough to name
	// a token in lists and logs, useless to an attacker.
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Collections []string  `json:"collections"`
	Created     time.Time `json:"created"`
	Revoked     time.Time `json:"revoked,omitzero"`
}

// Active reports whether the token may still be used.
func (t Token) Active() bool { return t.Revoked.IsZero() }

// Grants reports whether the token grants collection c.
func (t Token) Grants(c string) bool {
	return slices.Contains(t.Collections, "*") || slices.Contains(t.Collections, c)
}

// Store keeps tokens under one key prefix of a Pebble database. It is safe
// for concurrent use.
type Store struct {
	db     *pebble.DB
	prefix byte
	now    func() time.Time
}

// New returns a Store over db using keys that start with prefix
// (crdt.PrefixTokens when db is the document store's).
func New(db *pebble.DB, prefix byte) *Store {
	return &Store{db: db, prefix: prefix, now: time.Now}
}

func (s *Store) key(sum [32]byte) []byte {
	return append([]byte{s.prefix, keyHash}, sum[:]...)
}

func hashToken(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// Create makes a token granting collections and returns the secret, which
// is not stored and cannot be recovered.
func (s *Store) Create(ctx context.Context, name string, collections []string) (string, Token, error) {
	if name == "" || len(name) > 256 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\n") {
		return "", Token{}, fmt.Errorf("%w: name must be 1-256 bytes of text", ErrInvalid)
	}
	var colls []string
	for _, c := range collections {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if len(c) > 256 || !utf8.ValidString(c) || strings.ContainsRune(c, 0) {
			return "", Token{}, fmt.Errorf("%w: collection %q", ErrInvalid, c)
		}
		if !slices.Contains(colls, c) {
			colls = append(colls, c)
		}
	}
	if len(colls) == 0 {
		return "", Token{}, fmt.Errorf("%w: a token must grant at least one collection (or *)", ErrInvalid)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := hashToken(secret)
	t := Token{ID: hex.EncodeToString(sum[:6]), Name: name, Collections: colls, Created: s.now().UTC()}
	b, err := json.Marshal(t)
	if err != nil {
		return "", Token{}, err
	}
	if err := s.db.Set(s.key(sum), b, pebble.Sync); err != nil {
		return "", Token{}, fmt.Errorf("access: storing token: %w", err)
	}
	return secret, t, nil
}

// Check returns the record of an active token, or an error wrapping
// ErrUnauthorized.
func (s *Store) Check(ctx context.Context, secret string) (Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 128 {
		return Token{}, fmt.Errorf("%w: no valid token", ErrUnauthorized)
	}
	t, err := s.get(hashToken(secret))
	if errors.Is(err, pebble.ErrNotFound) {
		return Token{}, fmt.Errorf("%w: unknown token", ErrUnauthorized)
	}
	if err != nil {
		return Token{}, err
	}
	if !t.Active() {
		return Token{}, fmt.Errorf("%w: token %s was revoked", ErrUnauthorized, t.ID)
	}
	return t, nil
}

func (s *Store) get(sum [32]byte) (Token, error) {
	v, closer, err := s.db.Get(s.key(sum))
	if err != nil {
		return Token{}, err
	}
	defer closer.Close()
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return Token{}, fmt.Errorf("access: corrupt token record: %w", err)
	}
	return t, nil
}

// List returns every token, active and revoked, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	lo := []byte{s.prefix, keyHash}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: []byte{s.prefix, keyHash + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Token
	for ok := it.First(); ok; ok = it.Next() {
		var t Token
		if err := json.Unmarshal(it.Value(), &t); err != nil {
			return nil, fmt.Errorf("access: corrupt token record: %w", err)
		}
		out = append(out, t)
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b Token) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Revoke revokes the token with the given ID, or every active token with
// the given name. It returns the tokens revoked.
func (s *Store) Revoke(ctx context.Context, idOrName string) ([]Token, error) {
	lo := []byte{s.prefix, keyHash}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: []byte{s.prefix, keyHash + 1}})
	if err != nil {
		return nil, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	var revoked []Token
	for ok := it.First(); ok; ok = it.Next() {
		var t Token
		if err := json.Unmarshal(it.Value(), &t); err != nil {
			it.Close()
			return nil, fmt.Errorf("access: corrupt token record: %w", err)
		}
		if !t.Active() || (t.ID != idOrName && t.Name != idOrName) {
			continue
		}
		t.Revoked = s.now().UTC()
		v, err := json.Marshal(t)
		if err != nil {
			it.Close()
			return nil, err
		}
		b.Set(slices.Clone(it.Key()), v, nil)
		revoked = append(revoked, t)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	if len(revoked) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, idOrName)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, err
	}
	return revoked, nil
}
