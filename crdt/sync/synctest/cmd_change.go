package synctest

import (
	"fmt"
	"strings"

	"github.com/automerge/automerge-go"
)

// change node=A doc=D [collection=C] [type=T] [set=key:value] [text=key:pos:str]
//
// Edits (creating if needed) a document in A's store, as the node's API
// would, and tells A's engine. Prints the new heads and sequence number.
func (env *Env) cmdChange(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	name := c.Arg("doc", "")
	m, err := n.Store.Edit(env.DocID(name), c.Arg("collection", "clinic:a"), c.Arg("type", "note"), func(doc *automerge.Doc) error {
		if kv := c.Arg("set", ""); kv != "" {
			k, v, _ := strings.Cut(kv, ":")
			if err := doc.RootMap().Set(k, v); err != nil {
				return err
			}
		}
		if t := c.Arg("text", ""); t != "" {
			parts := strings.SplitN(t, ":", 3)
			if len(parts) != 3 {
				return fmt.Errorf("text=key:pos:str, got %q", t)
			}
			var pos int
			fmt.Sscan(parts[1], &pos)
			txt := doc.Path(parts[0]).Text()
			if err := txt.Insert(pos, parts[2]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	n.Eng.DocChanged(m)
	return fmt.Sprintf("%s: %s seq=%d heads=%s", n.Name, name, m.Seq, shortHeads(m.Heads)), nil
}
