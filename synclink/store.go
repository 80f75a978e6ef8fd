package synclink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	gosync "sync"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/sync/errgroup"

	"github.com/outposthq/outpost/crdt"
	"github.com/outposthq/outpost/crdt/sync"
)

// Store is the document store a Syncer works on: the engine's read side
// plus the writes of a Ready and change notifications. PebbleStore
// implements it over crdt.Store; a SQL-backed store for scaled-out sync
// servers would implement the same five-plus-two methods.
type Store interface {
	sync.Storage
	// Persist makes one Ready's writes durable: all Changes, then
	// SyncStates and Cursors. On error none of the Ready's messages may be
	// sent; the Syncer restarts its engine.
	Persist(ctx context.Context, rd *sync.Ready) error
	// Subscribe calls fn after every durable document write, including
	// local edits; fn must not block.
	Subscribe(fn func(sync.Meta)) (cancel func())
}

// PebbleStore adapts crdt.Store. Cursors live in the store's Pebble under
// crdt.PrefixSync: 'y' 'c' storageID 0x00 collection → seq (8 bytes,
// big-endian).
type PebbleStore struct {
	st *crdt.Store
	// prefetch holds Saved results being prepared by PrefetchSaved.
	prefetch struct {
		gosync.Mutex
		m map[string]*savedResult
	}
	// Parallel is how many documents a Persist writes at once. Each store
	// write is a synced commit; concurrent ones share fsyncs in Pebble's
	// commit pipeline, which is what makes a cold sync of thousands of
	// documents take seconds and not minutes. Default 64.
	Parallel int
}

// NewPebbleStore returns the adapter for st.
func NewPebbleStore(st *crdt.Store) *PebbleStore { return &PebbleStore{st: st, Parallel: 64} }

const cursorKey = 'c'

func meta(m crdt.Meta) sync.Meta {
	return sync.Meta{ID: m.ID.String(), Collection: m.Collection, Type: m.Type, Heads: m.Heads, Seq: m.Seq}
}

func notFound(err error) error {
	if errors.Is(err, crdt.ErrNotFound) {
		return fmt.Errorf("%w: %w", sync.ErrNotFound, err)
	}
	return err
}

func parseID(id string) (crdt.DocID, error) {
	d, err := crdt.ParseDocID(id)
	if err != nil {
		return d, fmt.Errorf("%w: %w", sync.ErrNotFound, err)
	}
	return d, nil
}

// Load implements sync.Storage.
func (p *PebbleStore) Load(id string) (*automerge.Doc, sync.Meta, error) {
	d, err := parseID(id)
	if err != nil {
		return nil, sync.Meta{}, err
	}
	doc, m, err := p.st.Load(context.Background(), d)
	if errors.Is(err, crdt.ErrCorrupt) {
		return nil, sync.Meta{}, fmt.Errorf("%w: %w", sync.ErrDamaged, err)
	}
	if err != nil {
		return nil, sync.Meta{}, notFound(err)
	}
	return doc, meta(m), nil
}

type savedResult struct {
	done  chan struct{}
	saved []byte
	meta  sync.Meta
	err   error
}

// prefetchWorkers is how many documents PrefetchSaved prepares at once.
// A compacted document is one Pebble read; one with unfolded changes is
// loaded, saved and compacted, CPU work in Automerge worth spreading over cores
// while the loop waits on the network and the disk.
const prefetchWorkers = 2

// PrefetchSaved implements sync.Prefetcher: it starts computing Saved for
// ids, so that the engine's calls that follow find them ready.
func (p *PebbleStore) PrefetchSaved(ids []string) {
	p.prefetch.Lock()
	if p.prefetch.m == nil {
		p.prefetch.m = map[string]*savedResult{}
	}
	var todo []*savedResult
	var todoIDs []string
	for _, id := range ids {
		if _, ok := p.prefetch.m[id]; ok {
			continue
		}
		r := &savedResult{done: make(chan struct{})}
		p.prefetch.m[id] = r
		todo, todoIDs = append(todo, r), append(todoIDs, id)
	}
	p.prefetch.Unlock()
	next := make(chan int, len(todo))
	for i := range todo {
		next <- i
	}
	close(next)
	for w := 0; w < prefetchWorkers; w++ {
		go func() {
			for i := range next {
				r := todo[i]
				r.saved, r.meta, r.err = p.saved(todoIDs[i])
				close(r.done)
			}
		}()
	}
}

// Saved implements sync.Storage.
func (p *PebbleStore) Saved(id string) ([]byte, sync.Meta, error) {
	p.prefetch.Lock()
	r, ok := p.prefetch.m[id]
	if ok {
		delete(p.prefetch.m, id)
	}
	p.prefetch.Unlock()
	if ok {
		<-r.done
		return r.saved, r.meta, r.err
	}
	return p.saved(id)
}

func (p *PebbleStore) saved(id string) ([]byte, sync.Meta, error) {
	d, err := parseID(id)
	if err != nil {
		return nil, sync.Meta{}, err
	}
	saved, m, err := p.st.Saved(context.Background(), d)
	if err != nil {
		return nil, sync.Meta{}, notFound(err)
	}
	return saved, meta(m), nil
}

// ChangesSince implements sync.ChangeLog.
func (p *PebbleStore) ChangesSince(id string, heads []automerge.ChangeHash) ([]byte, sync.Meta, bool, error) {
	d, err := parseID(id)
	if err != nil {
		return nil, sync.Meta{}, false, err
	}
	raw, m, ok, err := p.st.ChangesSince(context.Background(), d, heads)
	if err != nil {
		return nil, sync.Meta{}, false, notFound(err)
	}
	return raw, meta(m), ok, nil
}

// DocBytes implements sync.ChangeLog.
func (p *PebbleStore) DocBytes(id string) ([]byte, error) {
	d, err := parseID(id)
	if err != nil {
		return nil, err
	}
	b, _, err := p.st.DocBytes(context.Background(), d)
	return b, notFound(err)
}

// Meta implements sync.Storage.
func (p *PebbleStore) Meta(id string) (sync.Meta, error) {
	d, err := parseID(id)
	if err != nil {
		return sync.Meta{}, err
	}
	m, err := p.st.Meta(context.Background(), d)
	if err != nil {
		return sync.Meta{}, notFound(err)
	}
	return meta(m), nil
}

// ChangedSince implements sync.Storage.
func (p *PebbleStore) ChangedSince(collection string, after uint64, limit int) ([]sync.Meta, error) {
	ms, err := p.st.ChangedSince(context.Background(), collection, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]sync.Meta, len(ms))
	for i, m := range ms {
		out[i] = meta(m)
	}
	return out, nil
}

// SyncState implements sync.Storage.
func (p *PebbleStore) SyncState(peer, id string) ([]byte, error) {
	d, err := parseID(id)
	if err != nil {
		return nil, err
	}
	b, err := p.st.SyncState(context.Background(), peer, d)
	return b, notFound(err)
}

func cursorKeyOf(peer, collection string) []byte {
	k := []byte{crdt.PrefixSync, cursorKey}
	k = append(k, peer...)
	k = append(k, 0)
	return append(k, collection...)
}

// Cursor implements sync.Storage.
func (p *PebbleStore) Cursor(peer, collection string) (uint64, error) {
	v, closer, err := p.st.DB().Get(cursorKeyOf(peer, collection))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, nil // a damaged cursor costs a full scan, never a missed document
	}
	return binary.BigEndian.Uint64(v), nil
}

// Subscribe implements Store.
func (p *PebbleStore) Subscribe(fn func(sync.Meta)) (cancel func()) {
	return p.st.Subscribe(func(m crdt.Meta) { fn(meta(m)) })
}

// Persist implements Store. The engine's Changes come from its own
// Automerge documents, which applied (after verification) what peers sent,
// so they are applied with Update/CreateWithID rather than ApplyChanges,
// which would vet them a second time.
func (p *PebbleStore) Persist(ctx context.Context, rd *sync.Ready) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, p.Parallel))
	for _, c := range rd.Changes {
		g.Go(func() error { return p.apply(gctx, c) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(rd.SyncStates) > 0 {
		states := make([]crdt.SyncStateEntry, len(rd.SyncStates))
		for i, u := range rd.SyncStates {
			d, err := crdt.ParseDocID(u.ID)
			if err != nil {
				return err
			}
			states[i] = crdt.SyncStateEntry{Peer: u.Peer, ID: d, State: u.State}
		}
		if err := p.st.PutSyncStates(ctx, states); err != nil {
			return fmt.Errorf("synclink: sync states: %w", err)
		}
	}
	if len(rd.Cursors) == 0 {
		return nil
	}
	b := p.st.DB().NewBatch()
	defer b.Close()
	for _, c := range rd.Cursors {
		cur, err := p.Cursor(c.Peer, c.Collection)
		if err != nil {
			return err
		}
		if c.Seq <= cur {
			continue
		}
		b.Set(cursorKeyOf(c.Peer, c.Collection), binary.BigEndian.AppendUint64(nil, c.Seq), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("synclink: cursors: %w", err)
	}
	return nil
}

func (p *PebbleStore) apply(ctx context.Context, c sync.DocChange) error {
	id, err := crdt.ParseDocID(c.ID)
	if err != nil {
		return err
	}
	load := func(doc *automerge.Doc) error { return doc.LoadIncremental(c.Data) }
	if c.Append {
		// Vetted changes on top of the heads the engine saw: appended to
		// the log without loading (a loaded or moved document merges them).
		_, err := p.st.AppendVetted(ctx, id, c.Data, c.Base)
		if errors.Is(err, crdt.ErrHeadsMoved) {
			_, err = p.st.Update(ctx, id, "", load)
		}
		if err != nil {
			return fmt.Errorf("synclink: appending to %s: %w", c.ID, err)
		}
		return nil
	}
	if c.Create {
		// A created document's Data is a whole document (Save form):
		// stored as its snapshot without loading it, since the engine
		// vetted it (or trusts its sender) already.
		_, err := p.st.CreateFromVetted(ctx, id, c.Type, c.Collection, c.Data)
		if errors.Is(err, crdt.ErrCorrupt) {
			// Not a single document chunk: take the general path.
			_, err = p.st.CreateWithID(ctx, id, c.Type, c.Collection, load)
		}
		if !errors.Is(err, crdt.ErrExists) {
			if err != nil {
				return fmt.Errorf("synclink: creating %s: %w", c.ID, err)
			}
			return nil
		}
		// Created here meanwhile (a local edit of the same id): merge.
	}
	if _, err := p.st.Update(ctx, id, "", load); err != nil {
		return fmt.Errorf("synclink: updating %s: %w", c.ID, err)
	}
	return nil
}
