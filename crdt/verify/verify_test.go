package verify

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/automerge/automerge-go"
)

// crasherContents is the body of a well-framed, checksummed document chunk
// that makes Automerge's Rust core panic ("validate_action_and_value
// returned NonNumericInc"), which aborts any process that parses it. Found
// by crdt's FuzzApplyFramedChanges.
var crasherContents = []byte("\x01\x10\xd5\x0ed\xc9y\xdeD\xa9\x89ӷ\xdc^'\xf4\xa3\x01\x10gϨm׀U\x8e\\X\xf6\xd48|$\xa6\al.\x84N\x01?\xa5\xba\xc6\xc1\xbb\x10\xb8\xb4\a\x01\x02\x03\x02\x13\x02#\a5\x05@\x02V\x02\f\x01\x04\x02\x04\x11\x04\x13\a\x15\b!\x02#\x024\x02B\x04V\x04W\x05\x80\x01\x02\x7f\x00\x7f\x01\x7f\x06\x7f\xa6\x8a\x9e\xe8\x9f4\x7f\x03on\\\x7f\x00\x7f\a\x00\x01\x05\x00\x00\x01\x05\x01\x00\x02\x04\x00\x00\x01~\x00\x02\x03\x01\x7f\x04body\x00\x05\x06\x00\x06\x01\x01\x05A\x04\x05\x01\x7f\x00\x05\x16hello\x06\x00\x00")

func frame(typ byte, contents []byte) []byte {
	body := []byte{typ}
	n := uint64(len(contents))
	for n >= 0x80 {
		body = append(body, byte(n)|0x80)
		n >>= 7
	}
	body = append(body, byte(n))
	body = append(body, contents...)
	sum := sha256.Sum256(body)
	return append(append([]byte{0x85, 0x6f, 0x4a, 0x83}, sum[:4]...), body...)
}

func TestVerifier(t *testing.T) {
	v, err := New(Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()

	src := automerge.New()
	src.RootMap().Set("body", automerge.NewText("hello"))
	src.Commit("x")
	msg, _ := automerge.NewSyncState(src).GenerateMessage()

	// base is the receiver's copy; it moves on between checks, so the
	// worker's cached copy goes stale and must be refreshed.
	base := automerge.New()
	key := [16]byte{1}
	tests := []struct {
		name    string
		kind    byte
		in      []byte
		wantErr bool
		apply   bool // apply to base afterwards, as the caller would
	}{
		// Automerge parses strictly only into an empty document (crdt
		// frames and checksums bytes before they get here).
		{"garbage chunks", kindChunks, []byte("nope"), true, false},
		{"saved doc into empty", kindChunks, src.Save(), false, true},
		{"crasher", kindChunks, frame(0, crasherContents), true, false},
		{"valid after crash", kindChunks, src.Save(), false, false},
		{"sync message", kindSyncMessage, msg.Bytes(), false, false},
		{"garbage sync message", kindSyncMessage, []byte{0x42, 1, 2}, true, false},
		{"crasher again", kindChunks, frame(0, crasherContents), true, false},
	}
	for _, tt := range tests {
		var err error
		if tt.kind == kindChunks {
			err = v.Chunks(ctx, key, base, tt.in)
		} else {
			err = v.SyncMessage(ctx, key, base, tt.in)
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrRejected) {
			t.Errorf("%s: err %v does not wrap ErrRejected", tt.name, err)
		}
		if tt.apply {
			if err := base.LoadIncremental(tt.in); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A stream of edits, with local edits between them: every check must
	// see the receiver's current state.
	for i := 0; i < 20; i++ {
		heads := src.Heads()
		src.RootMap().Set("n", int64(i))
		src.Commit("remote")
		chs, _ := src.Changes(heads...)
		raw := automerge.SaveChanges(chs)
		if i%3 == 0 {
			base.RootMap().Set("local", int64(i))
			base.Commit("local")
		}
		if err := v.Chunks(ctx, key, base, raw); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
		if err := base.LoadIncremental(raw); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStartThenVet(t *testing.T) {
	v, err := New(Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	for i, s := range v.slots {
		if s.w == nil {
			t.Fatalf("worker %d not started", i)
		}
	}
	d := automerge.New()
	if err := d.RootMap().Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := v.Chunks(context.Background(), [16]byte{1}, nil, d.Save()); err != nil {
		t.Fatalf("a started worker refused a good document: %v", err)
	}
}

// TestWorkerKilledWhileIdle: a worker that died between requests (the OOM
// killer, an operator) is replaced, and the next bytes are vetted, not
// refused as if they had crashed it.
func TestWorkerKilledWhileIdle(t *testing.T) {
	v, err := New(Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Start(); err != nil {
		t.Fatal(err)
	}
	w := v.slots[0].w
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	w.cmd.Process.Wait() // dead before the next request
	d := automerge.New()
	if err := d.RootMap().Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := v.Chunks(context.Background(), [16]byte{1}, nil, d.Save()); err != nil {
		t.Fatalf("good bytes after the worker was killed: %v", err)
	}
	// Bytes that do crash it are still refused.
	if err := v.Chunks(context.Background(), [16]byte{1}, nil, frame(0, crasherContents)); !errors.Is(err, ErrRejected) {
		t.Fatalf("crasher after a restart: %v", err)
	}
}

// TestTimeout: bytes that keep a worker busy past the limit are refused,
// and the worker is replaced.
func TestTimeout(t *testing.T) {
	v, err := New(Options{Workers: 1, Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	d := automerge.New()
	if err := d.RootMap().Set("k", "v"); err != nil {
		t.Fatal(err)
	}
	err = v.Chunks(context.Background(), [16]byte{1}, nil, d.Save())
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want a refusal for taking too long", err)
	}
	v.timeout = time.Minute
	if err := v.Chunks(context.Background(), [16]byte{1}, nil, d.Save()); err != nil {
		t.Fatalf("after the timeout: %v", err)
	}
	// The caller's own cancellation is not a refusal.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Chunks(ctx, [16]byte{1}, nil, d.Save()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
