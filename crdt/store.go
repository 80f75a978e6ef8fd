package crdt

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	// ErrNotFound is returned for a document (or sync state, or blob) the store does not hold.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating a document whose id is taken.
	ErrExists = errors.New("document already exists")
	// ErrClosed is returned for calls after Close.
	ErrClosed = errors.New("store closed")
	// ErrInvalid is returned for a bad type, collection or peer name.
	ErrInvalid = errors.New("invalid argument")
	// ErrLocked is returned by Open when another process holds the data dir.
	ErrLocked = errors.New("data directory is in use by another process")
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// FS is the filesystem Pebble uses; nil means the OS. Tests pass vfs.NewMem().
	FS vfs.FS
	// Logger receives store events; Pebble's own chatter goes to Debug.
	Logger *slog.Logger
	// CompactChanges and CompactBytes: a document's change log is folded
	// into a snapshot once it holds this many entries or bytes.
	CompactChanges int
	CompactBytes   int64
	// CacheDocs is how many idle documents stay loaded in memory.
	CacheDocs int
	// Now returns the time stamped on changes and metadata.
	Now func() time.Time
	// Verify, when set, vets foreign bytes before ApplyChanges hands them
	// to Automerge, whose Rust core aborts the process on some malformed
	// input; crdt/verify's Verifier.Chunks does it in a child process.
	// It is called with the document's id and the document the bytes are
	// about to be applied to.
	Verify func(ctx context.Context, key [16]byte, doc *automerge.Doc, raw []byte) error
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CompactChanges <= 0 {
		o.CompactChanges = 1000
	}
	if o.CompactBytes <= 0 {
		o.CompactBytes = 4 << 20
	}
	if o.CacheDocs <= 0 {
		o.CacheDocs = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Store keeps Automerge documents in Pebble. It is safe for concurrent use.
//
// Invariants:
//   - A document's content is its snapshot followed by its log entries
//     [LogStart, LogNext), in order; loading concatenates them.
//   - Metadata, indexes, the collection sequence and the log entry of one
//     write go in one batch, so they never disagree after a crash.
//   - A write returns only after its batch is synced to the WAL; concurrent
//     writers share syncs through Pebble's commit pipeline (group commit).
//   - A document is read and written only under its handle's mutex; the
//     in-memory Doc is discarded whenever a write fails, so memory never
//     holds a change the disk does not.
//   - Collection sequence numbers become visible to ChangedSince in order:
//     while seq N is being committed no reader is shown anything above N-1,
//     so a cursor can never skip a change.
type Store struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger

	mu struct {
		sync.Mutex
		closed bool
		docs   map[DocID]*handle
		idle   list.List // of *handle: loaded, refs == 0; front is most recent
		seqs   map[string]*collectionSeq
		subs   map[int]func(Meta)
		nextID int
	}
}

// handle is the in-memory state of one document.
type handle struct {
	id DocID

	// mu is held while the document is read or written.
	mu     sync.Mutex
	loaded bool // doc and meta reflect the disk
	exists bool
	doc    *automerge.Doc
	meta   docMeta

	// Guarded by Store.mu.
	refs int
	elem *list.Element
}

// collectionSeq allocates a collection's change sequence numbers.
type collectionSeq struct {
	next    uint64              // next seq to hand out
	pending map[uint64]struct{} // handed out, not yet committed (or failed)
}

// Open opens (or creates) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	opts.fill()
	popts := &pebble.Options{
		FS:     opts.FS,
		Logger: pebbleLogger{opts.Logger},
		// Every write replaces a document's index keys (a delete and a
		// set per index). A memtable large enough to hold both halves of
		// most pairs drops them at flush instead of compacting them
		// through the levels.
		MemTableSize: 32 << 20,
	}
	if popts.FS == nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("crdt: create data dir: %w", err)
		}
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		if isLockErr(err) {
			return nil, fmt.Errorf("crdt: open %s: %w (is another outpost running on it?)", dir, ErrLocked)
		}
		return nil, fmt.Errorf("crdt: open %s: %w", dir, err)
	}
	s := &Store{db: db, opts: opts, log: opts.Logger}
	s.mu.docs = make(map[DocID]*handle)
	s.mu.seqs = make(map[string]*collectionSeq)
	s.mu.subs = make(map[int]func(Meta))
	return s, nil
}

// isLockErr recognises Pebble failing to take its directory lock, which it
// reports as the flock error itself.
func isLockErr(err error) bool {
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "temporarily unavailable") || strings.Contains(msg, "lock held")
}

// Close releases the store. Calls in flight finish first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.mu.closed = true
	handles := make([]*handle, 0, len(s.mu.docs))
	for _, h := range s.mu.docs {
		handles = append(handles, h)
	}
	s.mu.Unlock()
	// Wait for writers that already hold a document.
	for _, h := range handles {
		h.mu.Lock()
		h.mu.Unlock() //nolint:staticcheck // a barrier, not a critical section
	}
	return s.db.Close()
}

// DB exposes the underlying Pebble for packages that keep their own data
// beside the documents under a reserved prefix (see PrefixJobs and friends).
func (s *Store) DB() *pebble.DB { return s.db }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.opts.Now() }

// acquire returns the locked handle for id.
func (s *Store) acquire(ctx context.Context, id DocID) (*handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	h := s.mu.docs[id]
	if h == nil {
		h = &handle{id: id}
		s.mu.docs[id] = h
	}
	h.refs++
	if h.elem != nil {
		s.mu.idle.Remove(h.elem)
		h.elem = nil
	}
	s.mu.Unlock()
	h.mu.Lock()
	return h, nil
}

// release unlocks h and lets the cache evict idle documents.
func (s *Store) release(h *handle) {
	loaded := h.loaded && h.exists
	h.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if !loaded {
		delete(s.mu.docs, h.id)
		return
	}
	h.elem = s.mu.idle.PushFront(h)
	for s.mu.idle.Len() > s.opts.CacheDocs {
		old := s.mu.idle.Remove(s.mu.idle.Back()).(*handle)
		old.elem = nil
		delete(s.mu.docs, old.id)
	}
}

// loadLocked brings h up to date with the disk. h.mu is held.
func (s *Store) loadLocked(h *handle) error {
	if h.loaded {
		return nil
	}
	raw, closer, err := s.db.Get(metaKey(h.id))
	if errors.Is(err, pebble.ErrNotFound) {
		h.loaded, h.exists, h.doc, h.meta = true, false, nil, docMeta{}
		return nil
	}
	if err != nil {
		return err
	}
	meta, err := decodeMeta(raw)
	closer.Close()
	if err != nil {
		return fmt.Errorf("crdt: document %s: %w", h.id, err)
	}
	data, err := s.readDocBytes(h.id, meta)
	if err != nil {
		return err
	}
	doc := automerge.New()
	if len(data) > 0 {
		if doc, err = automerge.Load(data); err != nil {
			return fmt.Errorf("crdt: document %s: %w: %v", h.id, ErrCorrupt, err)
		}
	}
	// Writes take a document's old heads from its metadata; the loaded
	// document is the authority on them.
	meta.Heads = doc.Heads()
	h.loaded, h.exists, h.doc, h.meta = true, true, doc, meta
	return nil
}

// readDocBytes returns the snapshot followed by the live log entries.
func (s *Store) readDocBytes(id DocID, meta docMeta) ([]byte, error) {
	var data []byte
	snap, closer, err := s.db.Get(snapshotKey(id))
	switch {
	case err == nil:
		data = make([]byte, len(snap), len(snap)+int(meta.LogBytes))
		copy(data, snap)
		closer.Close()
	case !errors.Is(err, pebble.ErrNotFound):
		return nil, err
	}
	if meta.LogNext == meta.LogStart {
		return data, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(id, meta.LogStart),
		UpperBound: logKey(id, meta.LogNext),
	})
	if err != nil {
		return nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		data = append(data, it.Value()...)
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	return data, nil
}

// discardLocked forgets the in-memory document so the next access reloads
// it from disk. Used whenever memory may hold what the disk does not.
func (s *Store) discardLocked(h *handle) {
	h.loaded, h.doc = false, nil
}

func validName(what, v string) error {
	if v == "" || len(v) > 256 || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return fmt.Errorf("%w: %s %q must be 1-256 bytes of UTF-8 without NUL", ErrInvalid, what, v)
	}
	return nil
}

func (h *handle) publicMeta() Meta {
	m := h.meta
	return Meta{
		ID: h.id, Type: m.Type, Collection: m.Collection,
		Created: m.Created, Updated: m.Updated,
		Heads: append([]automerge.ChangeHash(nil), m.Heads...),
		Seq:   m.Seq, Changes: m.Changes,
	}
}

// Meta describes a stored document.
type Meta struct {
	ID         DocID
	Type       string
	Collection string
	Created    time.Time
	Updated    time.Time
	Heads      []automerge.ChangeHash
	// Seq is the collection change sequence number of the latest write.
	Seq uint64
	// Changes counts the writes made to the document through this store.
	Changes uint64
}

// Meta returns a document's metadata.
func (s *Store) Meta(ctx context.Context, id DocID) (Meta, error) {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return Meta{}, err
	}
	defer s.release(h)
	if h.loaded {
		if !h.exists {
			return Meta{}, fmt.Errorf("document %s: %w", id, ErrNotFound)
		}
		return h.publicMeta(), nil
	}
	m, err := s.readMeta(id)
	if err != nil {
		return Meta{}, err
	}
	return m, nil
}

func (s *Store) readMeta(id DocID) (Meta, error) {
	m, err := s.diskMeta(id)
	if err != nil {
		return Meta{}, err
	}
	h := handle{id: id, meta: m}
	return h.publicMeta(), nil
}

// View runs fn with the document under its lock. fn must not keep doc, or
// anything obtained from it, after it returns, and must not modify it.
func (s *Store) View(ctx context.Context, id DocID, fn func(doc *automerge.Doc, m Meta) error) error {
	h, err := s.acquire(ctx, id)
	if err != nil {
		return err
	}
	defer s.release(h)
	if err := s.loadLocked(h); err != nil {
		return err
	}
	if !h.exists {
		return fmt.Errorf("document %s: %w", id, ErrNotFound)
	}
	return fn(h.doc, h.publicMeta())
}

// Load returns a private copy of the document that the caller may keep and
// change freely (changes to it are not stored).
func (s *Store) Load(ctx context.Context, id DocID) (*automerge.Doc, Meta, error) {
	var (
		doc  *automerge.Doc
		meta Meta
	)
	err := s.View(ctx, id, func(d *automerge.Doc, m Meta) error {
		var err error
		doc, err = d.Fork()
		meta = m
		return err
	})
	return doc, meta, err
}

// Subscribe calls fn after every durable document write, from the writer's
// goroutine while it still holds the document; fn must not block or call
// back into the store for the same document. The returned func unsubscribes.
func (s *Store) Subscribe(fn func(Meta)) (cancel func()) {
	s.mu.Lock()
	id := s.mu.nextID
	s.mu.nextID++
	s.mu.subs[id] = fn
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		delete(s.mu.subs, id)
		s.mu.Unlock()
	}
}

func (s *Store) notify(m Meta) {
	s.mu.Lock()
	subs := make([]func(Meta), 0, len(s.mu.subs))
	for _, fn := range s.mu.subs {
		subs = append(subs, fn)
	}
	s.mu.Unlock()
	for _, fn := range subs {
		fn(m)
	}
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}

// Forget drops the in-memory copy of a document, so that the next access
// reads it from disk. The store does this by itself under memory pressure
// (CacheDocs); benchmarks use it to measure cold loads.
func (s *Store) Forget(id DocID) {
	h, err := s.acquire(context.Background(), id)
	if err != nil {
		return
	}
	s.discardLocked(h)
	s.release(h)
}
