package synctest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// Env is a set of nodes running sync engines over in-memory links, driven
// by scenario scripts (Handle) or by the randomized convergence test. Links
// carry encoded CBOR frames, so the wire codec is exercised too. Every step
// is explicit: nothing happens unless a command delivers or processes it.
type Env struct {
	Nodes  map[string]*Node
	order  []string
	links  map[[2]string]*Link // by node names, from -> to
	codec  *wire.Codec
	docIDs map[string]string // script name -> id
	names  map[string]string // id -> script name
	// Rejected collects every rejection any engine reported.
	Rejected []string
}

// Node is one side: a store that survives restarts and an engine that
// does not.
type Node struct {
	Name        string
	Collections []string // nil: all (a server)
	Store       *MemStore
	Eng         *sync.Engine
	Incarnation int
	// Plain nodes announce no Outpost extension, like automerge-repo
	// clients.
	Plain bool
	// Vet makes the node's engine vet what peers send (Config.Verify) with
	// a stand-in for crdt/verify that refuses any bytes holding Poison, as
	// the real one refuses bytes that would crash Automerge.
	Vet   bool
	peers map[string]string // peer id -> node name
}

// Link is one direction of a connection.
type Link struct {
	Frames [][]byte
}

// NewEnv returns an empty environment.
func NewEnv() *Env {
	return &Env{Nodes: map[string]*Node{}, links: map[[2]string]*Link{}, codec: wire.NewCodec(),
		docIDs: map[string]string{}, names: map[string]string{}}
}

// PeerID is the node's automerge-repo peer id in its current incarnation.
func (n *Node) PeerID() string { return fmt.Sprintf("%s-%d", n.Name, n.Incarnation) }

// AddNode creates a node. collections nil holds everything.
func (env *Env) AddNode(name string, collections []string, plain bool) (*Node, error) {
	return env.AddNodeWith(name, collections, func(n *Node) { n.Plain = plain })
}

// AddNodeWith creates a node, letting opt set its options (Plain, Vet)
// before its engine starts.
func (env *Env) AddNodeWith(name string, collections []string, opt func(*Node)) (*Node, error) {
	if _, ok := env.Nodes[name]; ok {
		return nil, fmt.Errorf("node %s exists", name)
	}
	actor := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))[:32]
	n := &Node{Name: name, Collections: collections, Store: NewMemStore(actor)}
	if opt != nil {
		opt(n)
	}
	if err := env.start(n); err != nil {
		return nil, err
	}
	env.Nodes[name] = n
	env.order = append(env.order, name)
	return n, nil
}

func (env *Env) start(n *Node) error {
	cfg := sync.Config{
		PeerID:      n.PeerID(),
		StorageID:   "storage-" + n.Name,
		Name:        n.Name,
		Collections: n.Collections,
		Storage:     n.Store,
		ScanPage:    4, // small pages make scans visible in scripts
	}
	if n.Vet {
		cfg.Verify = vetPoison
	}
	eng, err := sync.New(cfg)
	if err != nil {
		return err
	}
	n.Eng = eng
	n.peers = map[string]string{}
	return nil
}

// Poison marks bytes that a vetting node (Node.Vet) refuses: a string
// value holding it stays readable in a change's or a small document's
// uncompressed value column.
const Poison = "POISON"

func vetPoison(peer, id string, base *automerge.Doc, chunks []byte) error {
	if bytes.Contains(chunks, []byte(Poison)) {
		return fmt.Errorf("vetting: %s would crash Automerge", Poison)
	}
	return nil
}

// DocID maps a script name to a deterministic document id.
func (env *Env) DocID(name string) string {
	if id, ok := env.docIDs[name]; ok {
		return id
	}
	sum := sha256.Sum256([]byte("doc:" + name))
	id := wire.EncodeDocumentID([16]byte(sum[:16]))
	env.docIDs[name], env.names[id] = id, name
	return id
}

func (env *Env) docName(id string) string {
	if n, ok := env.names[id]; ok {
		return n
	}
	return id
}

func (env *Env) node(name string) (*Node, error) {
	n, ok := env.Nodes[name]
	if !ok {
		return nil, fmt.Errorf("no node %q", name)
	}
	return n, nil
}

// Connect performs the join/peer handshake of a dialing b: b sees a with
// the given grants (a token's), a sees b with its own collections.
func (env *Env) Connect(a, b *Node, grants []string) error {
	if _, ok := env.links[[2]string{a.Name, b.Name}]; ok {
		return fmt.Errorf("%s and %s are connected", a.Name, b.Name)
	}
	env.links[[2]string{a.Name, b.Name}] = &Link{}
	env.links[[2]string{b.Name, a.Name}] = &Link{}
	a.peers[b.PeerID()], b.peers[a.PeerID()] = b.Name, a.Name
	own := a.Collections
	if own == nil {
		own = []string{"*"}
	}
	// A plain client does not speak the extension, so neither side uses it.
	plain := a.Plain || b.Plain
	strip := func(md *wire.PeerMetadata) *wire.PeerMetadata {
		if plain {
			md.Outpost = nil
		}
		return md
	}
	b.Eng.AddPeer(sync.PeerInfo{ID: a.PeerID(), Metadata: strip(a.Eng.Metadata()), Grants: grants})
	a.Eng.AddPeer(sync.PeerInfo{ID: b.PeerID(), Metadata: strip(b.Eng.Metadata()), Grants: own})
	if a.Plain {
		// automerge-repo announces every document it has to a new peer.
		for _, id := range a.Store.IDs() {
			if err := a.Eng.Sync(b.PeerID(), id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Disconnect drops the connection between a and b and what was in flight.
func (env *Env) Disconnect(a, b *Node) {
	delete(env.links, [2]string{a.Name, b.Name})
	delete(env.links, [2]string{b.Name, a.Name})
	a.Eng.RemovePeer(b.PeerID())
	b.Eng.RemovePeer(a.PeerID())
	delete(a.peers, b.PeerID())
	delete(b.peers, a.PeerID())
}

// Connected reports whether a and b have a link.
func (env *Env) Connected(a, b string) bool {
	_, ok := env.links[[2]string{a, b}]
	return ok
}

// Restart drops every connection of n and replaces its engine; the store
// keeps what was persisted.
func (env *Env) Restart(n *Node) error {
	for _, other := range env.order {
		if env.Connected(n.Name, other) {
			env.Disconnect(n, env.Nodes[other])
		}
	}
	n.Incarnation++
	return env.start(n)
}

// Process runs one Ready of n: persist, Advance, queue the messages on the
// links, then feed the store's change notifications back. With crash it
// persists only the changes and then restarts n, as a kill between the two
// steps would. It returns a log of what happened.
func (env *Env) Process(n *Node, crash bool) ([]string, error) {
	if !n.Eng.HasReady() {
		return nil, nil
	}
	rd := n.Eng.Ready()
	if rd.Empty() {
		// Due sessions may turn out to have nothing to say.
		n.Eng.Advance()
		if n.Eng.HasReady() {
			return nil, fmt.Errorf("%s: HasReady stays true after an empty Ready", n.Name)
		}
		return nil, nil
	}
	var log []string
	metas, err := n.Store.Persist(&rd, crash)
	if err != nil {
		return log, err
	}
	for _, c := range rd.Changes {
		kind := "changes"
		if c.Append {
			kind = "append"
		}
		if c.Create {
			kind = "create " + c.Collection + "/" + c.Type
		}
		log = append(log, fmt.Sprintf("%s: persist %s %s heads=%s", n.Name, env.docName(c.ID), kind, shortHeads(c.Heads)))
	}
	if crash {
		log = append(log, n.Name+": crash after persisting changes")
		return log, env.Restart(n)
	}
	for _, u := range rd.Cursors {
		log = append(log, fmt.Sprintf("%s: cursor %s %s=%d", n.Name, strings.TrimPrefix(u.Peer, "storage-"), u.Collection, u.Seq))
	}
	for _, r := range rd.Rejected {
		line := fmt.Sprintf("%s: rejected %s doc=%s collection=%s: %s", n.Name, n.peerName(r.Peer), env.docName(r.Doc), r.Collection, r.Reason)
		env.Rejected = append(env.Rejected, line)
		log = append(log, line)
	}
	for _, r := range rd.Declined {
		log = append(log, fmt.Sprintf("%s: declined by %s doc=%s collection=%s", n.Name, n.peerName(r.Peer), env.docName(r.Doc), r.Collection))
	}
	for _, m := range rd.Messages {
		to, ok := n.peers[m.To]
		if !ok {
			continue
		}
		l := env.links[[2]string{n.Name, to}]
		if l == nil {
			continue
		}
		frame, err := env.codec.Encode(m.Msg)
		if err != nil {
			return log, err
		}
		l.Frames = append(l.Frames, frame)
	}
	closed := rd.Closed
	n.Eng.Advance()
	for _, c := range closed {
		if name, ok := n.peers[c.Peer]; ok {
			log = append(log, fmt.Sprintf("%s: closed %s: %s", n.Name, name, c.Reason))
			env.Disconnect(n, env.Nodes[name])
		}
	}
	for _, m := range metas {
		n.Eng.DocChanged(m)
	}
	return log, nil
}

func (n *Node) peerName(id string) string {
	if name, ok := n.peers[id]; ok {
		return name
	}
	return id
}

// Deliver delivers up to max frames (all if max < 0) on the link from a to
// b, in order, and logs them.
func (env *Env) Deliver(a, b *Node, max int) ([]string, error) {
	l := env.links[[2]string{a.Name, b.Name}]
	if l == nil {
		return nil, nil
	}
	var log []string
	for (max < 0 || len(log) < max) && len(l.Frames) > 0 {
		frame := l.Frames[0]
		l.Frames = l.Frames[1:]
		m, err := env.codec.Decode(frame)
		if err != nil {
			return log, fmt.Errorf("%s->%s: decode: %w", a.Name, b.Name, err)
		}
		log = append(log, fmt.Sprintf("%s->%s: %s", a.Name, b.Name, env.describe(m)))
		if err := b.Eng.Step(a.PeerID(), m); err != nil {
			log = append(log, fmt.Sprintf("%s: step error: %v", b.Name, err))
		}
		if env.links[[2]string{a.Name, b.Name}] != l {
			break // the step closed the connection
		}
	}
	return log, nil
}

// Pending is the number of frames in flight on all links.
func (env *Env) Pending() int {
	n := 0
	for _, l := range env.links {
		n += len(l.Frames)
	}
	return n
}

// Stabilize processes and delivers until nothing is left, up to a bound.
func (env *Env) Stabilize() ([]string, error) {
	var log []string
	for round := 0; round < 10000; round++ {
		busy := false
		for _, name := range env.order {
			n := env.Nodes[name]
			for n.Eng.HasReady() {
				busy = true
				l, err := env.Process(n, false)
				log = append(log, l...)
				if err != nil {
					return log, err
				}
			}
		}
		for _, a := range env.order {
			for _, b := range env.order {
				if l := env.links[[2]string{a, b}]; l != nil && len(l.Frames) > 0 {
					busy = true
					out, err := env.Deliver(env.Nodes[a], env.Nodes[b], -1)
					log = append(log, out...)
					if err != nil {
						return log, err
					}
				}
			}
		}
		if !busy {
			return log, nil
		}
	}
	return log, fmt.Errorf("not stable after 10000 rounds")
}

// describe renders a message compactly and deterministically.
func (env *Env) describe(m *wire.Message) string {
	var b strings.Builder
	b.WriteString(m.Type)
	if m.DocumentID != "" {
		b.WriteString(" " + env.docName(m.DocumentID))
	}
	if (m.Type == wire.TypeSync || m.Type == wire.TypeRequest) && len(m.Data) > 0 {
		pm, err := wire.ParseSyncMessage(m.Data)
		if err != nil {
			fmt.Fprintf(&b, " unparsable(%v)", err)
		} else {
			hs := make([]automerge.ChangeHash, len(pm.Heads))
			for i, h := range pm.Heads {
				hs[i] = automerge.ChangeHash(h)
			}
			fmt.Fprintf(&b, " v%d heads=%s", pm.Version-0x41, shortHeads(hs))
			if len(pm.Need) > 0 {
				fmt.Fprintf(&b, " need=%d", len(pm.Need))
			}
			if len(pm.Changes) > 0 {
				if t, ok := wire.ChunkType(pm.Changes[0]); ok && t == wire.ChunkDocument {
					b.WriteString(" doc")
				} else {
					fmt.Fprintf(&b, " changes=%d", len(pm.Changes))
				}
			}
		}
	}
	if m.Doc != nil {
		fmt.Fprintf(&b, " [%s/%s]", m.Doc.Collection, m.Doc.Type)
	}
	if m.Type == wire.TypeOutpostSince || m.Type == wire.TypeOutpostCursor {
		fmt.Fprintf(&b, " %s=%d", m.Collection, m.Seq)
		if m.Empty {
			b.WriteString(" empty")
		}
	}
	if m.Type == wire.TypeError {
		b.WriteString(" " + m.ErrorText)
	}
	return b.String()
}

func shortHeads(hs []automerge.ChangeHash) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, h.String()[:4])
	}
	slices.Sort(parts)
	return "[" + strings.Join(parts, ",") + "]"
}

// Links returns every link, for tests that inspect frames in flight.
func (env *Env) Links() []*Link {
	var out []*Link
	for _, a := range env.order {
		for _, b := range env.order {
			if l := env.links[[2]string{a, b}]; l != nil {
				out = append(out, l)
			}
		}
	}
	return out
}
