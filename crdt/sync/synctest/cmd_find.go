package synctest

import "fmt"

// find node=A doc=D
//
// A starts syncing D with every connected peer: a request if A lacks it
// (as automerge-repo's Repo.find does), its heads otherwise.
func (env *Env) cmdFind(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	id := env.DocID(c.Arg("doc", ""))
	for pid := range n.peers {
		if err := n.Eng.Sync(pid, id); err != nil {
			return fmt.Sprintf("%s: %v", n.Name, err), nil
		}
	}
	return "", nil
}
