package synctest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
)

// heads [doc=D]
//
// Prints, per document, every node's stored heads ("-" if it does not have
// the document), and whether all holders agree.
func (env *Env) cmdHeads(c *Cmd) (string, error) {
	var names []string
	if d := c.Arg("doc", ""); d != "" {
		names = []string{d}
	} else {
		for n := range env.docIDs {
			names = append(names, n)
		}
		slices.Sort(names)
	}
	var out []string
	for _, name := range names {
		id := env.DocID(name)
		var parts []string
		seen := map[string]bool{}
		for _, nn := range env.order {
			h := "-"
			env.Nodes[nn].Store.View(id, func(doc *automerge.Doc, m sync.Meta) {
				if doc != nil {
					h = shortHeads(doc.Heads())
					seen[h] = true
				}
			})
			parts = append(parts, nn+"="+h)
		}
		verdict := "converged"
		if len(seen) > 1 {
			verdict = "DIVERGED"
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", name, strings.Join(parts, " "), verdict))
	}
	return lines(out), nil
}
