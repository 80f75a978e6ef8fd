// Package verify checks untrusted Automerge bytes in a child process before
// the node applies them.
//
// automerge-go wraps Automerge's Rust core through its C API, and that core
// panics on some malformed input that is well framed and checksummed (found
// by fuzzing: an increment op with a non-numeric value). A Rust panic cannot
// unwind into Go: it aborts the whole process. A peer holding a valid token
// could therefore crash a node, and crash it again after every restart by
// resending the same message. So bytes from outside are first parsed by a
// worker process (this same executable, re-run with an environment flag);
// if the worker dies, a new one tries the bytes once more, and if that one
// dies too they are rejected (a worker killed while idle must not get good
// bytes refused).
//
// Some of those panics depend on the document the bytes are applied to, not
// only on the bytes, so the worker applies them to a copy of the caller's
// document. Automerge is deterministic: if the worker survives applying the
// bytes to a document with the same changes, so will the caller. Workers
// keep the documents they were last shown, keyed by id and checked by
// heads, so a steady stream of messages for one document costs one Save.
//
// Any binary that imports this package can serve as the worker: the check
// runs in init, before main or a test's TestMain.
package verify

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/automerge/automerge-go"
)

// ErrRejected wraps every verdict that the bytes are unsafe or malformed.
var ErrRejected = errors.New("automerge data rejected")

const envWorker = "OUTPOST_AUTOMERGE_VERIFY_WORKER"

// Request kinds.
const (
	kindChunks      byte = 1 // document/change chunks (Save, SaveIncremental, SaveChanges output)
	kindSyncMessage byte = 2 // an Automerge sync message
)

// Base modes: what the worker applies the bytes to.
const (
	baseCached byte = 0 // the worker's cached copy, which must be at the given heads
	baseFull   byte = 1 // the Save() bytes in the request (empty: a new document)
)

// Verdicts.
const (
	verdictOK       byte = 0
	verdictInvalid  byte = 1
	verdictNeedBase byte = 2
)

// maxRequest bounds one request; larger inputs are rejected outright.
const maxRequest = 256 << 20

// workerCacheDocs bounds how many documents a worker keeps.
const workerCacheDocs = 64

func init() {
	if os.Getenv(envWorker) == "1" {
		os.Exit(serve(os.Stdin, os.Stdout))
	}
}

// Request layout (little-endian):
//
//	kind(1) len(4) | key(16) mode(1) nheads(2) heads(32*n) baselen(4) base data
//
// Response: verdict(1) len(4) message.

// serve is the worker loop: one request in, one verdict out, until EOF.
func serve(in io.Reader, out io.Writer) int {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	cache := map[[16]byte]*automerge.Doc{}
	var order [][16]byte
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0
		}
		n := binary.LittleEndian.Uint32(hdr[1:])
		if n > maxRequest+maxRequest {
			return 2
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 2
		}
		verdict, msg := handle(hdr[0], buf, cache)
		if verdict == verdictOK && len(cache) > workerCacheDocs {
			// Forget the oldest entries; order may hold stale keys.
			for len(cache) > workerCacheDocs/2 && len(order) > 0 {
				delete(cache, order[0])
				order = order[1:]
			}
		}
		if verdict == verdictOK {
			order = append(order, [16]byte(buf[:16]))
		}
		var rh [5]byte
		rh[0] = verdict
		binary.LittleEndian.PutUint32(rh[1:], uint32(len(msg)))
		w.Write(rh[:])
		w.WriteString(msg)
		if w.Flush() != nil {
			return 0
		}
	}
}

func handle(kind byte, buf []byte, cache map[[16]byte]*automerge.Doc) (byte, string) {
	if len(buf) < 16+1+2 {
		return verdictInvalid, "short request"
	}
	key := [16]byte(buf[:16])
	mode := buf[16]
	nh := int(binary.LittleEndian.Uint16(buf[17:]))
	p := buf[19:]
	if len(p) < 32*nh+4 {
		return verdictInvalid, "short request"
	}
	heads := make([]automerge.ChangeHash, nh)
	for i := range heads {
		copy(heads[i][:], p[32*i:])
	}
	p = p[32*nh:]
	bl := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(bl) > uint64(len(p)) {
		return verdictInvalid, "short request"
	}
	base, data := p[:bl], p[bl:]

	var doc *automerge.Doc
	switch mode {
	case baseCached:
		doc = cache[key]
		if doc == nil || !sameHeads(doc.Heads(), heads) {
			delete(cache, key)
			return verdictNeedBase, ""
		}
	case baseFull:
		doc = automerge.New()
		if len(base) > 0 {
			var err error
			if doc, err = automerge.Load(base); err != nil {
				return verdictInvalid, "base: " + err.Error()
			}
		}
	default:
		return verdictInvalid, "unknown base mode"
	}
	// A failed apply may leave doc half-changed: drop it from the cache.
	delete(cache, key)
	var err error
	switch kind {
	case kindChunks:
		err = doc.LoadIncremental(data)
	case kindSyncMessage:
		_, err = automerge.NewSyncState(doc).ReceiveMessage(data)
	default:
		err = fmt.Errorf("unknown request kind %d", kind)
	}
	if err != nil {
		return verdictInvalid, err.Error()
	}
	cache[key] = doc
	return verdictOK, ""
}

func sameHeads(a, b []automerge.ChangeHash) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[automerge.ChangeHash]bool, len(a))
	for _, h := range a {
		set[h] = true
	}
	for _, h := range b {
		if !set[h] {
			return false
		}
	}
	return true
}

// Verifier hands bytes to worker processes. It is safe for concurrent use.
// Documents are routed to workers by key, so a document's cached copy
// stays with one worker.
type Verifier struct {
	exe     string
	slots   []*slot
	timeout time.Duration
}

type slot struct {
	mu     sync.Mutex
	w      *worker // nil until first use or after a crash
	closed bool
}

// Options configure a Verifier.
type Options struct {
	// Workers is how many worker processes may run at once (default 2).
	Workers int
	// Executable is the binary to run as a worker; default os.Executable().
	Executable string
	// Timeout bounds one check, plus 2 s for every MiB of input
	// (default 30 s). Bytes that keep a worker busy longer are refused:
	// the sync loop waits on the check, so one peer's slow document must
	// not stall everyone's sync.
	Timeout time.Duration
}

// New returns a Verifier; workers start on first use.
func New(opts Options) (*Verifier, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("verify: find executable: %w", err)
		}
		opts.Executable = exe
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	v := &Verifier{exe: opts.Executable, slots: make([]*slot, opts.Workers), timeout: opts.Timeout}
	for i := range v.slots {
		v.slots[i] = &slot{}
	}
	return v, nil
}

// Start starts every worker now rather than on first use, so that the
// first bytes to vet (often a burst: a reconnecting node's changes) do not
// also wait for processes to start.
func (v *Verifier) Start() error {
	for _, s := range v.slots {
		s.mu.Lock()
		if s.w == nil && !s.closed {
			w, err := startWorker(v.exe)
			if err != nil {
				s.mu.Unlock()
				return err
			}
			s.w = w
		}
		s.mu.Unlock()
	}
	return nil
}

// Chunks checks that applying document or change chunks (Save,
// SaveIncremental or SaveChanges output) to base is safe. key identifies the
// document (its id); base is the caller's copy, which must not change during
// the call.
func (v *Verifier) Chunks(ctx context.Context, key [16]byte, base *automerge.Doc, raw []byte) error {
	return v.check(ctx, kindChunks, key, base, raw)
}

// SyncMessage checks that receiving an Automerge sync message into base is safe.
func (v *Verifier) SyncMessage(ctx context.Context, key [16]byte, base *automerge.Doc, msg []byte) error {
	return v.check(ctx, kindSyncMessage, key, base, msg)
}

func (v *Verifier) check(ctx context.Context, kind byte, key [16]byte, base *automerge.Doc, data []byte) error {
	if len(data) > maxRequest {
		return fmt.Errorf("%w: %d bytes is more than the %d allowed", ErrRejected, len(data), maxRequest)
	}
	var heads []automerge.ChangeHash
	if base != nil {
		heads = base.Heads()
	}
	s := v.slots[int(binary.LittleEndian.Uint32(key[:4]))%len(v.slots)]
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := v.timeout + time.Duration(len(data)>>20)*2*time.Second
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if s.closed {
		return errors.New("verify: closed")
	}
	mode, baseBytes := baseCached, []byte(nil)
	if len(heads) == 0 {
		mode = baseFull
	}
	deaths := 0
	for attempt := 0; ; attempt++ {
		if s.w == nil {
			w, err := startWorker(v.exe)
			if err != nil {
				return err
			}
			s.w = w
		}
		req := encodeRequest(kind, key, mode, heads, baseBytes, data)
		verdict, msg, err := s.w.do(ctx, req)
		if err != nil {
			s.w.stop()
			s.w = nil
			if parent.Err() != nil {
				return parent.Err()
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%w: vetting took longer than %v", ErrRejected, limit)
			}
			// The worker died. The input may have killed it, or something
			// else did (the OOM killer, an operator) while it sat idle:
			// a fresh worker tries the same bytes once more, and only a
			// second death is the input's.
			if deaths++; deaths < 2 {
				attempt--
				continue
			}
			return fmt.Errorf("%w: input crashed the automerge parser", ErrRejected)
		}
		switch verdict {
		case verdictOK:
			return nil
		case verdictNeedBase:
			if attempt > 0 {
				return errors.New("verify: worker refused a full base")
			}
			mode, baseBytes = baseFull, base.Save()
			continue
		default:
			if msg == "" {
				msg = "invalid"
			}
			return fmt.Errorf("%w: %s", ErrRejected, msg)
		}
	}
}

func encodeRequest(kind byte, key [16]byte, mode byte, heads []automerge.ChangeHash, base, data []byte) []byte {
	n := 16 + 1 + 2 + 32*len(heads) + 4 + len(base) + len(data)
	b := make([]byte, 0, 5+n)
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, key[:]...)
	b = append(b, mode)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(heads)))
	for _, h := range heads {
		b = append(b, h[:]...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(base)))
	b = append(b, base...)
	return append(b, data...)
}

// Close stops every worker.
func (v *Verifier) Close() error {
	for _, s := range v.slots {
		s.mu.Lock()
		s.closed = true
		if s.w != nil {
			s.w.stop()
			s.w = nil
		}
		s.mu.Unlock()
	}
	return nil
}

type worker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startWorker(exe string) (*worker, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envWorker+"=1")
	cmd.Stderr = io.Discard // the Rust panic message; the verdict says enough
	// Pdeathsig fires when the thread that started the worker exits; the
	// worker also exits on EOF when the parent goes away.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("verify: start worker: %w", err)
	}
	return &worker{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// do sends one request and reads the verdict.
func (w *worker) do(ctx context.Context, req []byte) (byte, string, error) {
	type result struct {
		verdict byte
		msg     string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		if _, err := w.in.Write(req); err != nil {
			done <- result{err: err}
			return
		}
		var rh [5]byte
		if _, err := io.ReadFull(w.out, rh[:]); err != nil {
			done <- result{err: err}
			return
		}
		msg := make([]byte, binary.LittleEndian.Uint32(rh[1:]))
		if _, err := io.ReadFull(w.out, msg); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{verdict: rh[0], msg: string(msg)}
	}()
	select {
	case r := <-done:
		return r.verdict, r.msg, r.err
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

func (w *worker) stop() {
	w.in.Close()
	if w.cmd.Process != nil {
		w.cmd.Process.Kill()
	}
	w.cmd.Wait()
}
