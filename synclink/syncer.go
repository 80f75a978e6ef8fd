package synclink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// Options configure a Syncer.
type Options struct {
	// StorageID is this side's durable identity: peers persist their sync
	// state with us under it. Use something stable per data directory.
	StorageID string
	// Name is shown to Outpost peers.
	Name string
	// Collections this side holds; nil holds all (a sync server).
	Collections []string
	// Tokens, if set, authenticates every connection Serve accepts: no
	// token or a revoked one is refused with 401 before the upgrade, and
	// the token's collections are the peer's grants. Nil accepts anyone
	// with every collection granted (tests only).
	Tokens access.Checker
	// Verify vets Automerge bytes from peers that connected to us with a
	// token (see sync.Config.Verify): they may be anyone holding a token.
	// Servers and peers we dial were chosen by the operator (and, with
	// TLS, proven by certificate), and a sync server only ever sends what
	// it produced from bytes it vetted, so their bytes are trusted unless
	// VerifyDialed is set. Vetting costs a load of each document in a
	// worker process, which would double a cold sync's CPU.
	Verify       func(id string, base *automerge.Doc, chunks []byte) error
	VerifyDialed bool
	// Dial configures outgoing connections (TLS, pinned CA).
	Dial DialOptions
	// Logger receives connection events and rejected writes.
	Logger *slog.Logger

	// Timing. Zero values take the defaults in brackets.
	Tick             time.Duration // engine tick [100ms]
	RequestTimeout   int           // ticks before forwarded requests give up [20]
	HandshakeTimeout time.Duration // [10s]
	WriteTimeout     time.Duration // one frame [30s]
	PingInterval     time.Duration // [15s]
	BackoffMin       time.Duration // first reconnect delay [250ms]
	BackoffMax       time.Duration // reconnect delay cap [30s]
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Tick, 100*time.Millisecond)
	def(&o.HandshakeTimeout, 10*time.Second)
	def(&o.WriteTimeout, 30*time.Second)
	def(&o.PingInterval, 15*time.Second)
	def(&o.BackoffMin, 250*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
}

// Syncer runs sync for one store: one engine, its connections and dialers.
type Syncer struct {
	store    Store
	opts     Options
	codec    *wire.Codec
	log      *slog.Logger
	peerID   string
	metadata *wire.PeerMetadata

	events  chan event
	notes   noteQueue
	cur     *loop // the running loop; touched only by its goroutine
	running atomic.Bool
	runCtx  atomic.Pointer[context.Context]

	mu struct {
		gosync.Mutex
		dialers []*dialer
		status  map[string]sync.PeerStatus // by peer id, from the loop
		conns   []*conn                    // live connections, for Status
	}
}

type evKind int

const (
	evUp evKind = iota
	evDown
	evMsg
	evDrained
	evRequest
)

type event struct {
	kind evKind
	c    *conn
	msg  *wire.Message
	doc  string
}

// New returns a Syncer over store. Run must be running for it to do
// anything.
func New(store Store, opts Options) (*Syncer, error) {
	opts.fill()
	var rnd [8]byte
	rand.Read(rnd[:])
	s := &Syncer{
		store:  store,
		opts:   opts,
		codec:  wire.NewCodec(),
		log:    opts.Logger,
		events: make(chan event, 1024),
	}
	// automerge-repo peer ids are per process; ours say who we are too.
	s.peerID = "outpost-" + hex.EncodeToString(rnd[:])
	if opts.Name != "" {
		s.peerID = opts.Name + "-" + hex.EncodeToString(rnd[:4])
	}
	eng, err := s.newEngine()
	if err != nil {
		return nil, err
	}
	s.metadata = eng.Metadata()
	s.notes.signal = make(chan struct{}, 1)
	s.mu.status = map[string]sync.PeerStatus{}
	return s, nil
}

// PeerID is this side's automerge-repo peer id.
func (s *Syncer) PeerID() string { return s.peerID }

func (s *Syncer) newEngine() (*sync.Engine, error) {
	return sync.New(sync.Config{
		PeerID:         s.peerID,
		StorageID:      s.opts.StorageID,
		Name:           s.opts.Name,
		Collections:    s.opts.Collections,
		Storage:        s.store,
		Verify:         s.verify,
		RequestTimeout: s.opts.RequestTimeout,
	})
}

// verify applies Options.Verify to the peers it covers. The engine runs
// on the loop goroutine, which also owns conns: peers' directions are
// looked up there, through the loop's map of connections.
func (s *Syncer) verify(peer, id string, base *automerge.Doc, chunks []byte) error {
	if s.opts.Verify == nil {
		return nil
	}
	if !s.opts.VerifyDialed && s.outbound(peer) {
		return nil
	}
	if l := s.cur; base == nil && l != nil && l.vetted.take(id, chunks) {
		return nil
	}
	return s.opts.Verify(id, base, chunks)
}

// post hands an event to the loop; false if ctx ended first.
func (s *Syncer) post(ctx context.Context, ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// drained is called by a writer after writing a batch.
func (s *Syncer) drained(c *conn) {
	if c.queued() < queueLow {
		select {
		case s.events <- event{kind: evDrained, c: c}:
		default: // the loop is busy; it rechecks queues on every round
		}
	}
}

// noteQueue carries store notifications to the loop without blocking the
// store's writer (Subscribe callbacks must not block).
type noteQueue struct {
	mu     gosync.Mutex
	items  []sync.Meta
	signal chan struct{}
}

func (q *noteQueue) push(m sync.Meta) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (q *noteQueue) take() []sync.Meta {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// loop is the state owned by Run's goroutine.
type loop struct {
	s     *Syncer
	eng   *sync.Engine
	conns map[string]*conn // by peer id
	debug bool             // log every message (Debug level enabled)
	// docAllocs counts Automerge documents made (engine loads and store
	// writes) since the last garbage collection.
	docAllocs uint64
	lastLoads uint64
	// batch is the events of one round, vetted the verdicts prevet
	// reached for them.
	batch  []event
	vetted prevetted
}

// gcEvery is how many Automerge documents may be made between forced
// collections. Each takes hundreds of kilobytes of C memory that Go's
// collector neither sees nor counts toward its next cycle, so without this
// a cold sync of 10,000 documents grows to gigabytes of garbage.
const gcEvery = 256

// Run owns the engine until ctx ends: it starts the dialers, takes
// connections and messages, and processes the engine's Ready. It returns
// ctx's error.
func (s *Syncer) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("synclink: Run called twice")
	}
	eng, err := s.newEngine()
	if err != nil {
		s.running.Store(false)
		return err
	}
	l := &loop{s: s, eng: eng, conns: map[string]*conn{}, debug: s.log.Enabled(ctx, slog.LevelDebug)}
	s.cur = l
	defer func() { s.cur = nil }()
	cancel := s.store.Subscribe(s.notes.push)
	defer cancel()

	s.mu.Lock()
	s.runCtx.Store(&ctx)
	for _, d := range s.mu.dialers {
		s.startDialerLocked(ctx, d)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.runCtx.Store(nil)
		s.running.Store(false)
		s.mu.Unlock()
	}()

	tick := time.NewTicker(s.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, c := range l.conns {
				c.close(1001, "shutting down")
			}
			return ctx.Err()
		case ev := <-s.events:
			// Take what else is waiting, so that one Ready (and one round
			// of parallel store writes and vetting) covers many messages.
			evs := append(l.batch[:0], ev)
			for len(evs) < 513 {
				select {
				case ev := <-s.events:
					evs = append(evs, ev)
					continue
				default:
				}
				break
			}
			l.vetted = l.prevet(evs)
			for _, ev := range evs {
				l.handle(ev)
			}
			l.vetted = nil
			clear(evs)
			l.batch = evs
		case <-s.notes.signal:
		case <-tick.C:
			l.eng.Tick()
		}
		for _, m := range s.notes.take() {
			l.eng.DocChanged(m)
		}
		l.flush(ctx)
		l.publish()
	}
}

func (l *loop) handle(ev event) {
	c := ev.c
	switch ev.kind {
	case evUp:
		if old := l.conns[c.info.ID]; old != nil {
			// The peer reconnected before we noticed it left.
			old.close(1000, "replaced by a new connection")
			l.eng.RemovePeer(old.info.ID)
		}
		l.conns[c.info.ID] = c
		l.eng.AddPeer(c.info)
		l.s.log.Info("sync: peer connected", "peer", c.info.ID, "url", c.url, "outbound", c.outbound, "outpost", c.info.Metadata.OutpostExt() != nil)
	case evDown:
		if l.conns[c.info.ID] == c {
			delete(l.conns, c.info.ID)
			l.eng.RemovePeer(c.info.ID)
			reason, _ := c.err.Load().(string)
			l.s.log.Info("sync: peer disconnected", "peer", c.info.ID, "url", c.url, "reason", reason)
		}
	case evMsg:
		if l.conns[c.info.ID] != c {
			return // a replaced connection's last words
		}
		if l.debug {
			l.s.log.Debug("sync: recv", "from", c.info.ID, "msg", ev.msg.String())
		}
		if err := l.eng.Step(c.info.ID, ev.msg); err != nil {
			l.s.log.Warn("sync: closing connection", "peer", c.info.ID, "err", err)
		}
	case evRequest:
		for _, id := range sortedConns(l.conns) {
			if err := l.eng.Sync(id, ev.doc); err != nil {
				l.s.log.Info("sync: request", "doc", ev.doc, "peer", id, "err", err)
			}
		}
	case evDrained:
		if c.paused && c.queued() < queueLow {
			c.paused = false
			l.eng.Pause(c.info.ID, false)
		}
	}
}

// Request asks every connected peer for a document this side does not
// have (or offers it to them if it does): how a node opens a document by
// id. Peers answer with the document or doc-unavailable; a document that
// arrives is stored and announced through the store as usual.
func (s *Syncer) Request(id string) error {
	if !wire.ValidDocumentID(id) {
		return fmt.Errorf("synclink: invalid document id %q", id)
	}
	ctxp := s.runCtx.Load()
	if ctxp == nil {
		return errors.New("synclink: not running")
	}
	if !s.post(*ctxp, event{kind: evRequest, doc: id}) {
		return (*ctxp).Err()
	}
	return nil
}

func sortedConns(m map[string]*conn) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// flush processes the engine's Ready until it has nothing more, in the
// order sync.Ready requires.
func (l *loop) flush(ctx context.Context) {
	for l.eng.HasReady() {
		rd := l.eng.Ready()
		if err := l.s.store.Persist(ctx, &rd); err != nil {
			if ctx.Err() != nil {
				return
			}
			// Nothing of this Ready may be sent. Start over from what the
			// store holds: drop the engine and every connection (dialers
			// reconnect; peers resend what we did not persist).
			l.s.log.Error("sync: persisting failed; restarting the sync engine", "err", err)
			for id, c := range l.conns {
				c.close(1011, "server error")
				delete(l.conns, id)
			}
			if eng, err := l.s.newEngine(); err == nil {
				l.eng = eng
			}
			return
		}
		for _, r := range rd.Rejected {
			l.s.log.Warn("sync: refused", "peer", r.Peer, "doc", r.Doc, "collection", r.Collection, "reason", r.Reason)
		}
		for _, r := range rd.Declined {
			l.s.log.Warn("sync: peer refused a document", "peer", r.Peer, "doc", r.Doc, "collection", r.Collection, "reason", r.Reason)
		}
		for _, env := range rd.Messages {
			c := l.conns[env.To]
			if c == nil {
				continue
			}
			if l.debug {
				l.s.log.Debug("sync: send", "to", env.To, "msg", env.Msg.String())
			}
			frame, err := l.s.codec.Encode(env.Msg)
			if err != nil {
				l.s.log.Error("sync: encoding a message", "err", err)
				continue
			}
			if n := c.enqueue(frame); n > queueHigh && !c.paused {
				c.paused = true
				l.eng.Pause(c.info.ID, true)
			}
		}
		for _, cl := range rd.Closed {
			if c := l.conns[cl.Peer]; c != nil {
				c.closeAfterFlush(cl.Reason)
				delete(l.conns, cl.Peer)
			}
		}
		l.eng.Advance()
		for _, c := range rd.Changes {
			if !c.Create && !c.Append {
				// A created document or appended changes are stored
				// without loading; an update goes through the store's
				// loaded copy.
				l.docAllocs++
			}
		}
	}
	if loads := l.eng.Loads(); loads != l.lastLoads {
		l.docAllocs += loads - l.lastLoads
		l.lastLoads = loads
	}
	if l.docAllocs >= gcEvery {
		l.docAllocs = 0
		runtime.GC()
	}
	for _, c := range l.conns {
		if c.paused && c.queued() < queueLow {
			c.paused = false
			l.eng.Pause(c.info.ID, false)
		}
	}
}

// publish copies what Status needs out of the loop.
func (l *loop) publish() {
	st := map[string]sync.PeerStatus{}
	for _, p := range l.eng.Status() {
		st[p.ID] = p
	}
	conns := make([]*conn, 0, len(l.conns))
	for _, c := range l.conns {
		conns = append(conns, c)
	}
	l.s.mu.Lock()
	l.s.mu.status = st
	l.s.mu.conns = conns
	l.s.mu.Unlock()
}

// outbound reports whether peer is a connection we dialed. Called on the
// loop goroutine (from the engine), which owns the loop's connection map.
func (s *Syncer) outbound(peer string) bool {
	l := s.cur
	if l == nil {
		return false
	}
	c := l.conns[peer]
	return c != nil && c.outbound
}
