package synctest

import (
	"fmt"
	"slices"
	gosync "sync"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
)

// MemStore is an in-memory document store. Local edits use a fixed actor
// and a fake clock so that change hashes, and with them scenario output,
// are the same on every run. It is safe for concurrent use.
type MemStore struct {
	mu struct {
		gosync.Mutex
		docs    map[string]*memDoc
		seq     map[string]uint64
		states  map[[2]string][]byte
		cursors map[[2]string]uint64
		clock   int64
		subs    map[int]func(sync.Meta)
		nextSub int
		noLog   bool
		// failStates: documents whose sync states fail to read.
		failStates map[string]bool
	}
	actor string
	// Appends counts DocChange.Append writes that found their base.
	Appends int
}

type memDoc struct {
	doc  *automerge.Doc
	meta sync.Meta
}

// NewMemStore returns an empty store whose local edits are made by actor
// (hex, even length).
func NewMemStore(actor string) *MemStore {
	s := &MemStore{actor: actor}
	s.mu.docs = map[string]*memDoc{}
	s.mu.seq = map[string]uint64{}
	s.mu.states = map[[2]string][]byte{}
	s.mu.cursors = map[[2]string]uint64{}
	s.mu.subs = map[int]func(sync.Meta){}
	return s
}

// Load implements sync.Storage.
func (s *MemStore) Load(id string) (*automerge.Doc, sync.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mu.docs[id]
	if !ok {
		return nil, sync.Meta{}, fmt.Errorf("doc %s: %w", id, sync.ErrNotFound)
	}
	doc, err := d.doc.Fork()
	return doc, d.meta, err
}

// Saved implements sync.Storage.
func (s *MemStore) Saved(id string) ([]byte, sync.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mu.docs[id]
	if !ok {
		return nil, sync.Meta{}, fmt.Errorf("doc %s: %w", id, sync.ErrNotFound)
	}
	return d.doc.Save(), d.meta, nil
}

// Meta implements sync.Storage.
func (s *MemStore) Meta(id string) (sync.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mu.docs[id]
	if !ok {
		return sync.Meta{}, fmt.Errorf("doc %s: %w", id, sync.ErrNotFound)
	}
	return d.meta, nil
}

// ChangedSince implements sync.Storage.
func (s *MemStore) ChangedSince(collection string, after uint64, limit int) ([]sync.Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sync.Meta
	for _, d := range s.mu.docs {
		if d.meta.Collection == collection && d.meta.Seq > after {
			out = append(out, d.meta)
		}
	}
	slices.SortFunc(out, func(a, b sync.Meta) int { return int(a.Seq) - int(b.Seq) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ChangesSince implements sync.ChangeLog, from the stored copy: certain
// whenever the document has every one of heads.
func (s *MemStore) ChangesSince(id string, heads []automerge.ChangeHash) ([]byte, sync.Meta, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mu.docs[id]
	if !ok {
		return nil, sync.Meta{}, false, fmt.Errorf("doc %s: %w", id, sync.ErrNotFound)
	}
	if s.mu.noLog || len(heads) == 0 {
		return nil, d.meta, false, nil
	}
	for _, h := range heads {
		if _, err := d.doc.Change(h); err != nil {
			return nil, d.meta, false, nil
		}
	}
	chs, err := d.doc.Changes(heads...)
	if err != nil {
		return nil, d.meta, false, err
	}
	if len(chs) == 0 {
		return nil, d.meta, true, nil
	}
	return automerge.SaveChanges(chs), d.meta, true, nil
}

// DocBytes implements sync.ChangeLog.
func (s *MemStore) DocBytes(id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.mu.docs[id]
	if !ok {
		return nil, fmt.Errorf("doc %s: %w", id, sync.ErrNotFound)
	}
	return d.doc.Save(), nil
}

// FailSyncStates makes reading document id's sync states fail (fail) or
// work again.
func (s *MemStore) FailSyncStates(id string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.failStates == nil {
		s.mu.failStates = map[string]bool{}
	}
	s.mu.failStates[id] = fail
}

// DisableChangeLog makes ChangesSince always answer "not certain", as a
// store whose log was folded into snapshots would, so that every exchange
// takes the general path.
func (s *MemStore) DisableChangeLog() {
	s.mu.Lock()
	s.mu.noLog = true
	s.mu.Unlock()
}

// SyncState implements sync.Storage.
func (s *MemStore) SyncState(peer, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.failStates[id] {
		return nil, fmt.Errorf("synctest: reading the sync state of %s fails", id)
	}
	b, ok := s.mu.states[[2]string{peer, id}]
	if !ok {
		return nil, sync.ErrNotFound
	}
	return b, nil
}

// Cursor implements sync.Storage.
func (s *MemStore) Cursor(peer, collection string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.cursors[[2]string{peer, collection}], nil
}

// Subscribe calls fn after every document write, like crdt.Store.Subscribe.
func (s *MemStore) Subscribe(fn func(sync.Meta)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.mu.nextSub
	s.mu.nextSub++
	s.mu.subs[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.mu.subs, id)
	}
}

// Persist applies a Ready's writes (Changes, then SyncStates and Cursors)
// and returns the metadata of the documents written, in order, for the
// caller to feed to Engine.DocChanged. With changesOnly it stops after the
// changes, as a crash between the two steps would.
func (s *MemStore) Persist(rd *sync.Ready, changesOnly bool) ([]sync.Meta, error) {
	var metas []sync.Meta
	s.mu.Lock()
	for _, c := range rd.Changes {
		m, err := s.applyLocked(c)
		if err != nil {
			s.mu.Unlock()
			return metas, err
		}
		metas = append(metas, m)
	}
	if !changesOnly {
		for _, u := range rd.SyncStates {
			s.mu.states[[2]string{u.Peer, u.ID}] = slices.Clone(u.State)
		}
		for _, u := range rd.Cursors {
			k := [2]string{u.Peer, u.Collection}
			if u.Seq > s.mu.cursors[k] {
				s.mu.cursors[k] = u.Seq
			}
		}
	}
	subs := s.subsLocked()
	s.mu.Unlock()
	for _, m := range metas {
		for _, fn := range subs {
			fn(m)
		}
	}
	return metas, nil
}

func (s *MemStore) subsLocked() []func(sync.Meta) {
	var out []func(sync.Meta)
	for _, k := range sortedInts(s.mu.subs) {
		out = append(out, s.mu.subs[k])
	}
	return out
}

func (s *MemStore) applyLocked(c sync.DocChange) (sync.Meta, error) {
	d, ok := s.mu.docs[c.ID]
	if !ok {
		if !c.Create {
			return sync.Meta{}, fmt.Errorf("changes for unknown doc %s", c.ID)
		}
		d = &memDoc{doc: automerge.New(), meta: sync.Meta{ID: c.ID, Collection: c.Collection, Type: c.Type}}
	}
	if c.Append {
		// Like crdt.Store.AppendVetted: on its base the changes are
		// appended; on heads that moved since, merged all the same.
		heads := d.doc.Heads()
		onBase := len(heads) == len(c.Base)
		for _, h := range c.Base {
			onBase = onBase && slices.Contains(heads, h)
		}
		if onBase {
			s.Appends++
		}
	}
	if err := d.doc.LoadIncremental(c.Data); err != nil {
		return sync.Meta{}, fmt.Errorf("applying to %s: %w", c.ID, err)
	}
	for _, h := range c.Heads {
		if _, err := d.doc.Change(h); err != nil {
			return sync.Meta{}, fmt.Errorf("after applying to %s the store lacks head %s the engine announced", c.ID, h)
		}
	}
	s.mu.docs[c.ID] = d
	return s.bumpLocked(d), nil
}

func (s *MemStore) bumpLocked(d *memDoc) sync.Meta {
	s.mu.seq[d.meta.Collection]++
	d.meta.Seq = s.mu.seq[d.meta.Collection]
	d.meta.Heads = d.doc.Heads()
	return d.meta
}

// Edit changes (creating if needed) a document locally and returns its new
// metadata; subscribers are called. The change's actor and time are fixed.
func (s *MemStore) Edit(id, collection, typ string, fn func(*automerge.Doc) error) (sync.Meta, error) {
	s.mu.Lock()
	d, ok := s.mu.docs[id]
	if !ok {
		d = &memDoc{doc: automerge.New(), meta: sync.Meta{ID: id, Collection: collection, Type: typ}}
	}
	if err := d.doc.SetActorID(s.actor); err != nil {
		s.mu.Unlock()
		return sync.Meta{}, err
	}
	if err := fn(d.doc); err != nil {
		s.mu.Unlock()
		return sync.Meta{}, err
	}
	s.mu.clock++
	t := time.Unix(1_700_000_000+s.mu.clock, 0)
	if _, err := d.doc.Commit("", automerge.CommitOptions{Time: &t}); err != nil {
		s.mu.Unlock()
		return sync.Meta{}, err
	}
	s.mu.docs[id] = d
	m := s.bumpLocked(d)
	subs := s.subsLocked()
	s.mu.Unlock()
	for _, fn := range subs {
		fn(m)
	}
	return m, nil
}

// View runs fn on the stored document (nil if absent).
func (s *MemStore) View(id string, fn func(doc *automerge.Doc, m sync.Meta)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.mu.docs[id]; ok {
		fn(d.doc, d.meta)
		return
	}
	fn(nil, sync.Meta{})
}

// IDs lists the stored documents, sorted.
func (s *MemStore) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.mu.docs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sortedInts[V any](m map[int]V) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
