package synclink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/verify"
)

// vetLog wraps a real verifier, recording what it is asked and refusing
// bytes that carry a marker, as it would bytes that crash Automerge.
type vetLog struct {
	v  *verify.Verifier
	mu gosync.Mutex
	// wholeDocs counts requests with no base (the fast-forward path's
	// stored document followed by the changes); refused counts refusals.
	wholeDocs, withBase, refused int
}

var errPoison = errors.New("poisoned")

func (l *vetLog) verify(id string, base *automerge.Doc, chunks []byte) error {
	l.mu.Lock()
	if base == nil {
		l.wholeDocs++
	} else {
		l.withBase++
	}
	l.mu.Unlock()
	if bytes.Contains(chunks, []byte("POISON")) {
		l.mu.Lock()
		l.refused++
		l.mu.Unlock()
		return errPoison
	}
	return VerifyWith(l.v)(id, base, chunks)
}

func (l *vetLog) counts() (whole, base, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wholeDocs, l.withBase, l.refused
}

// Edits a node makes to documents the server already has reach it on the
// fast-forward path: vetted (in a worker, whole document plus changes) and
// appended without loading the server's copy. Changes the vetting refuses
// never reach the server's store.
func TestForwardVettedAppends(t *testing.T) {
	v, err := verify.New(verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	vl := &vetLog{v: v}
	var serverLog, aLog logBuf
	server := newSideWith(t, "server", nil, true, func(o *Options) { o.Verify, o.Logger = vl.verify, serverLog.logger() })
	a := newSideWith(t, "a", []string{"clinic:a"}, false, func(o *Options) { o.Logger = aLog.logger() })
	// Created before connecting: they travel whole (cold sync), and
	// neither side loads them.
	var ids []crdt.DocID
	for i := range 6 {
		ids = append(ids, a.create("clinic:a", map[string]string{"title": fmt.Sprint("note ", i)}))
	}
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	server.waitFor("a's documents on the server", 10*time.Second, func() bool {
		for _, id := range ids {
			if server.get(id, "title") == "" {
				return false
			}
		}
		return true
	})
	// Wait for the acknowledgements too: until then a's sessions await
	// them, and an edit takes the general path.
	a.waitFor("a in sync", 10*time.Second, func() bool {
		st := a.syncer.Status()
		return len(st) == 1 && st[0].State == "connected" && st[0].Pending == 0
	})
	for _, id := range ids {
		server.store.Forget(id)
	}
	whole0, base0, _ := vl.counts()

	for _, id := range ids {
		a.set(id, "status", "signed")
	}
	server.waitFor("a's edits on the server", 10*time.Second, func() bool {
		for _, id := range ids {
			if !sameStoreHeads(t, a.store, server.store, id) {
				return false
			}
		}
		return true
	})
	whole, base, _ := vl.counts()
	if whole-whole0 < len(ids) || base != base0 {
		t.Errorf("vetting: %d whole-document and %d loaded-base requests for %d edits, want %d and 0",
			whole-whole0, base-base0, len(ids), len(ids))
	}
	for _, id := range ids {
		if server.get(id, "status") != "signed" {
			t.Errorf("%s: status %q on the server", id, server.get(id, "status"))
		}
	}

	// A change the vetting refuses, made before an edit of another
	// document: the server refuses that document alone (and logs it), its
	// store never holds the change, and the connection stays up for the
	// other document and later edits.
	bad := ids[0]
	a.set(bad, "status", "POISON")
	a.set(ids[1], "status", "filed")
	server.waitFor("the refusal", 10*time.Second, func() bool { _, _, r := vl.counts(); return r > 0 })
	server.waitFor("the edit after the refused one", 10*time.Second, func() bool { return server.get(ids[1], "status") == "filed" })
	if got := server.get(bad, "status"); got != "signed" {
		t.Fatalf("server status %q after a refused change", got)
	}
	if m, _ := server.store.Meta(context.Background(), bad); !sameStoreHeads(t, server.store, server.store, bad) || len(m.Heads) == 0 {
		t.Fatal("refused document unreadable on the server")
	}
	a.set(ids[2], "status", "filed")
	server.waitFor("a later edit on the same connection", 10*time.Second, func() bool { return server.get(ids[2], "status") == "filed" })
	if n := serverLog.count("sync: closing connection"); n != 0 {
		t.Fatalf("the server closed %d connections over a refused document:\n%s", n, serverLog.String())
	}
	if serverLog.count("sync: refused") != 1 || !strings.Contains(serverLog.String(), bad.String()) {
		t.Fatalf("the refusal was not logged once with the document:\n%s", serverLog.String())
	}
	a.waitFor("a hearing of the refusal", 10*time.Second, func() bool { return aLog.count("sync: peer refused a document") == 1 })

	// A new connection: the refused document does not block the others.
	a.syncer.RemovePeer(server.url())
	server.waitFor("the server dropped a", 10*time.Second, func() bool { return len(server.syncer.Status()) == 0 })
	// (Edits made while the refusing connection lasts are covered by the
	// cursors it announces: only later ones offer the document again.)
	a.waitFor("a dropped the server", 10*time.Second, func() bool { return len(a.syncer.Status()) == 0 })
	a.set(bad, "title", "edited offline")
	a.set(ids[3], "status", "filed")
	a.syncer.AddPeer(server.url(), server.token("clinic:a"))
	server.waitFor("an offline edit after the refused document's", 10*time.Second, func() bool { return server.get(ids[3], "status") == "filed" })
	// Changed since, it is offered again (it may have been repaired) and
	// refused again.
	server.waitFor("the refused document offered again", 10*time.Second, func() bool { return serverLog.count("sync: refused") == 2 })
	if got := server.get(bad, "title"); got == "edited offline" {
		t.Fatal("the server took a refused document's changes on the next connection")
	}
	if n := serverLog.count("sync: closing connection"); n != 0 {
		t.Fatalf("the server closed %d connections over a refused document:\n%s", n, serverLog.String())
	}
}

// logBuf collects a Syncer's log lines for a test.
type logBuf struct {
	mu  gosync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuf) count(msg string) int {
	return strings.Count(b.String(), "msg=\""+msg+"\"")
}

func (b *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func sameStoreHeads(t *testing.T, a, b *crdt.Store, id crdt.DocID) bool {
	ma, err := a.Meta(context.Background(), id)
	if err != nil {
		return false
	}
	mb, err := b.Meta(context.Background(), id)
	if err != nil {
		return false
	}
	return crdt.SameHeads(ma.Heads, mb.Heads)
}
