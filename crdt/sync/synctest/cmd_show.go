package synctest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/automerge/automerge-go"
	"github.com/outposthq/outpost/crdt/sync"
)

// show node=A doc=D
//
// Prints the document's store metadata and root fields on A.
func (env *Env) cmdShow(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	var out string
	n.Store.View(env.DocID(c.Arg("doc", "")), func(doc *automerge.Doc, m sync.Meta) {
		if doc == nil {
			out = "absent"
			return
		}
		out = fmt.Sprintf("%s/%s seq=%d %s", m.Collection, m.Type, m.Seq, RootString(doc))
	})
	return out, nil
}

// RootString renders the root map deterministically.
func RootString(doc *automerge.Doc) string {
	vals, err := doc.RootMap().Values()
	if err != nil {
		return "error: " + err.Error()
	}
	var keys []string
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		v := vals[k]
		var s string
		switch v.Kind() {
		case automerge.KindText:
			t, _ := v.Text().Get()
			s = fmt.Sprintf("%q", t)
		case automerge.KindStr:
			s = fmt.Sprintf("%q", v.Str())
		default:
			s = fmt.Sprint(v.Interface())
		}
		parts = append(parts, k+"="+s)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
