package synclink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt"
)

// side is one node or server in a test: a real crdt.Store on an in-memory
// filesystem, a Syncer and, for servers, an HTTP listener.
type side struct {
	t      *testing.T
	store  *crdt.Store
	tokens *access.Store
	syncer *Syncer
	srv    *httptest.Server
	cancel context.CancelFunc
	done   chan error
}

func newSide(t *testing.T, name string, collections []string, serve bool) *side {
	t.Helper()
	return newSideWith(t, name, collections, serve, nil)
}

// newSideWith is newSide with a chance to change the Syncer's options.
func newSideWith(t *testing.T, name string, collections []string, serve bool, opt func(*Options)) *side {
	t.Helper()
	st, err := crdt.Open("", crdt.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	s := &side{t: t, store: st, tokens: access.New(st.DB(), crdt.PrefixTokens)}
	opts := Options{
		StorageID: "storage-" + name, Name: name, Collections: collections,
		Tokens: s.tokens, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Tick: 20 * time.Millisecond,
	}
	if opt != nil {
		opt(&opts)
	}
	s.syncer, err = New(NewPebbleStore(st), opts)
	if err != nil {
		t.Fatal(err)
	}
	if serve {
		mux := http.NewServeMux()
		mux.HandleFunc("/sync", s.syncer.Serve)
		s.srv = httptest.NewServer(mux)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- s.syncer.Run(ctx) }()
	t.Cleanup(s.stop)
	return s
}

func (s *side) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
	if s.srv != nil {
		s.srv.Close()
	}
	s.store.Close()
}

func (s *side) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/sync" }

func (s *side) token(collections ...string) string {
	s.t.Helper()
	secret, _, err := s.tokens.Create(context.Background(), "test", collections)
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

func (s *side) create(collection string, kv map[string]string) crdt.DocID {
	s.t.Helper()
	m, err := s.store.Create(context.Background(), "note", collection, func(d *automerge.Doc) error {
		for k, v := range kv {
			if err := d.RootMap().Set(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return m.ID
}

func (s *side) set(id crdt.DocID, k, v string) {
	s.t.Helper()
	if _, err := s.store.Update(context.Background(), id, "", func(d *automerge.Doc) error {
		return d.RootMap().Set(k, v)
	}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *side) get(id crdt.DocID, k string) string {
	var out string
	s.store.View(context.Background(), id, func(d *automerge.Doc, m crdt.Meta) error {
		if v, err := d.RootMap().Get(k); err == nil && v.Kind() == automerge.KindStr {
			out = v.Str()
		}
		return nil
	})
	return out
}

// waitFor waits until cond holds, re-checking after every write to the
// store and on a short poll (for conditions about other stores).
func (s *side) waitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	changed := make(chan struct{}, 1)
	cancel := s.store.Subscribe(func(crdt.Meta) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline:
			s.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}
