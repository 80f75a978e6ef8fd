package sync_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/sync/synctest"
)

var (
	seedFlag   = flag.Uint64("seed", 0, "run TestConvergence with this seed only")
	seedsFlag  = flag.Int("seeds", 48, "number of seeds TestConvergence runs")
	fromFlag   = flag.Uint64("seeds-from", 1, "first seed TestConvergence runs")
	roundsFlag = flag.Int("rounds", 400, "rounds of random steps per TestConvergence seed")
)

// regressionSeeds failed once, beyond the seeds run by default, and run
// always: 470 lost a document to a cursor announced before the scan
// (testdata/cursor_before_scan.txt).
var regressionSeeds = []uint64{470}

// TestConvergence: a server and four nodes edit map fields and Text
// concurrently while links are cut and restored, messages are delivered in
// random portions, and nodes and the server restart (some killed between
// persisting changes and the rest of a Ready). Healed and stabilized, every
// node holds identical heads for every document it is entitled to, no
// acknowledged edit is missing, and no node holds a document of a
// collection it is not granted.
func TestConvergence(t *testing.T) {
	seeds := []uint64{}
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	} else {
		for s := *fromFlag; s < *fromFlag+uint64(*seedsFlag); s++ {
			seeds = append(seeds, s)
		}
		seeds = append(seeds, regressionSeeds...)
	}
	for _, seed := range seeds {
		if err := runConvergence(seed, *roundsFlag); err != nil {
			t.Errorf("seed %d: %v\nreproduce: go test ./crdt/sync -run TestConvergence -seed %d -v", seed, err, seed)
		}
	}
}

type world struct {
	env   *synctest.Env
	rng   *rand.Rand
	links [][2]string // possible connections: dialer, listener
	colls map[string][]string
	docs  map[string]string // name -> collection
	// expected: per document the keys and text tokens acknowledged.
	keys   map[string][]string
	tokens map[string][]string
	nextID int
	log    []string
}

func runConvergence(seed uint64, rounds int) error {
	w := &world{
		env: synctest.NewEnv(),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		colls: map[string][]string{
			"server": nil,
			"a":      {"clinic:a"},
			"b":      {"clinic:a"},
			"c":      {"clinic:a", "clinic:b"},
			"d":      {"clinic:b"},
		},
		links:  [][2]string{{"a", "server"}, {"b", "server"}, {"c", "server"}, {"d", "server"}, {"a", "b"}, {"c", "d"}},
		docs:   map[string]string{},
		keys:   map[string][]string{},
		tokens: map[string][]string{},
	}
	for i := 0; i < 6; i++ {
		c := "clinic:a"
		if i >= 4 {
			c = "clinic:b"
		}
		w.docs[fmt.Sprintf("d%d", i)] = c
	}
	// Odd seeds have the server and c vet what they receive, as a server
	// vets nodes with tokens: honest bytes always pass, but the vetting
	// paths (forward.go's hot documents taking the general path) run.
	vet := seed%2 == 1
	for _, n := range []string{"server", "a", "b", "c", "d"} {
		if _, err := w.env.AddNodeWith(n, w.colls[n], func(nd *synctest.Node) { nd.Vet = vet && (n == "server" || n == "c") }); err != nil {
			return err
		}
	}
	// Each document is created once, with its Text, by one node: two nodes
	// creating the same key concurrently is a conflict Automerge resolves
	// by picking one, which would hide the other's text by design.
	for i, doc := range sortedDocNames(w.docs) {
		owner := []string{"a", "b", "c", "c", "d", "c"}[i]
		if _, err := w.node(owner).Store.Edit(w.env.DocID(doc), w.docs[doc], "note", func(d *automerge.Doc) error {
			return d.RootMap().Set("notes", automerge.NewText(""))
		}); err != nil {
			return err
		}
	}
	for i := 0; i < rounds; i++ {
		if err := w.step(); err != nil {
			return fmt.Errorf("round %d: %w\nlast steps:\n%s", i, err, w.tail())
		}
	}
	// Heal: connect every link and let it settle.
	for _, l := range w.links {
		if !w.env.Connected(l[0], l[1]) {
			if err := w.connect(l); err != nil {
				return err
			}
		}
	}
	out, err := w.env.Stabilize()
	w.log = append(w.log, out...)
	if err != nil {
		return fmt.Errorf("stabilize: %w\nlast steps:\n%s", err, w.tail())
	}
	if len(w.env.Rejected) > 0 {
		return fmt.Errorf("honest peers were rejected: %s", strings.Join(w.env.Rejected, "; "))
	}
	if err := w.check(); err != nil {
		return fmt.Errorf("%w\nlast steps:\n%s", err, w.tail())
	}
	return nil
}

var dumpFlag = flag.String("dump", "", "write the full step log of a failing convergence run to this file")

func (w *world) tail() string {
	if *dumpFlag != "" {
		os.WriteFile(*dumpFlag, []byte(strings.Join(w.log, "\n")), 0o644)
	}
	if len(w.log) > 25 {
		return strings.Join(w.log[len(w.log)-25:], "\n")
	}
	return strings.Join(w.log, "\n")
}

func (w *world) node(name string) *synctest.Node { return w.env.Nodes[name] }

func (w *world) connect(l [2]string) error {
	w.log = append(w.log, fmt.Sprintf("connect %s->%s", l[0], l[1]))
	grants := w.colls[l[0]]
	if grants == nil {
		grants = []string{"*"}
	}
	return w.env.Connect(w.node(l[0]), w.node(l[1]), grants)
}

func (w *world) entitled(node, coll string) bool {
	cs := w.colls[node]
	return cs == nil || slices.Contains(cs, coll)
}

func (w *world) step() error {
	names := []string{"server", "a", "b", "c", "d"}
	switch r := w.rng.IntN(100); {
	case r < 35: // edit
		n := names[1+w.rng.IntN(4)]
		var mine []string
		for _, d := range sortedDocNames(w.docs) {
			has := false
			w.node(n).Store.View(w.env.DocID(d), func(doc *automerge.Doc, _ sync.Meta) { has = doc != nil })
			if has {
				mine = append(mine, d)
			}
		}
		if len(mine) == 0 {
			return nil
		}
		doc := mine[w.rng.IntN(len(mine))]
		w.nextID++
		key := fmt.Sprintf("e%d", w.nextID)
		text := w.rng.IntN(2) == 0
		m, err := w.node(n).Store.Edit(w.env.DocID(doc), w.docs[doc], "note", func(d *automerge.Doc) error {
			if !text {
				return d.RootMap().Set(key, n)
			}
			t := d.Path("notes").Text()
			pos := 0
			if l := t.Len(); l > 0 {
				pos = w.rng.IntN(l + 1)
				// Never split an earlier token, so each stays findable.
				s, _ := t.Get()
				for pos > 0 && pos < len(s) && s[pos-1] != ']' {
					pos--
				}
			}
			return t.Insert(pos, "["+key+"]")
		})
		if err != nil {
			return err
		}
		if text {
			w.tokens[doc] = append(w.tokens[doc], "["+key+"]")
		} else {
			w.keys[doc] = append(w.keys[doc], key)
		}
		w.log = append(w.log, fmt.Sprintf("edit %s %s %s", n, doc, key))
		w.node(n).Eng.DocChanged(m)
	case r < 65: // deliver part of one link
		var live [][2]string
		for _, a := range names {
			for _, b := range names {
				if w.env.Connected(a, b) {
					live = append(live, [2]string{a, b})
				}
			}
		}
		if len(live) == 0 {
			return nil
		}
		l := live[w.rng.IntN(len(live))]
		out, err := w.env.Deliver(w.node(l[0]), w.node(l[1]), 1+w.rng.IntN(8))
		w.log = append(w.log, out...)
		return err
	case r < 88: // process a Ready
		n := w.node(names[w.rng.IntN(len(names))])
		crash := w.rng.IntN(40) == 0
		out, err := w.env.Process(n, crash)
		w.log = append(w.log, out...)
		return err
	case r < 95: // cut or restore a link
		l := w.links[w.rng.IntN(len(w.links))]
		if w.env.Connected(l[0], l[1]) {
			w.log = append(w.log, fmt.Sprintf("partition %s %s", l[0], l[1]))
			w.env.Disconnect(w.node(l[0]), w.node(l[1]))
			return nil
		}
		return w.connect(l)
	case r < 98: // restart
		n := w.node(names[w.rng.IntN(len(names))])
		w.log = append(w.log, "restart "+n.Name)
		return w.env.Restart(n)
	default:
		for _, n := range names {
			w.node(n).Eng.Tick()
		}
	}
	return nil
}

func (w *world) check() error {
	var problems []string
	for _, doc := range sortedDocNames(w.docs) {
		coll := w.docs[doc]
		id := w.env.DocID(doc)
		var ref []automerge.ChangeHash
		refNode := ""
		for _, n := range []string{"server", "a", "b", "c", "d"} {
			w.node(n).Store.View(id, func(d *automerge.Doc, m sync.Meta) {
				if !w.entitled(n, coll) {
					if d != nil {
						problems = append(problems, fmt.Sprintf("%s holds %s of %s, which it is not granted", n, doc, coll))
					}
					return
				}
				if d == nil {
					problems = append(problems, fmt.Sprintf("%s lacks %s", n, doc))
					return
				}
				if refNode == "" {
					ref, refNode = d.Heads(), n
				} else if !slices.Equal(ref, d.Heads()) {
					problems = append(problems, fmt.Sprintf("%s: heads of %s differ from %s's", doc, n, refNode))
				}
				for _, k := range w.keys[doc] {
					if v, err := d.RootMap().Get(k); err != nil || v.Kind() == automerge.KindVoid {
						problems = append(problems, fmt.Sprintf("%s: %s lost key %s", doc, n, k))
					}
				}
				if len(w.tokens[doc]) > 0 {
					s, _ := d.Path("notes").Text().Get()
					for _, tok := range w.tokens[doc] {
						if !strings.Contains(s, tok) {
							problems = append(problems, fmt.Sprintf("%s: %s lost text %s", doc, n, tok))
						}
					}
				}
			})
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

func sortedDocNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
