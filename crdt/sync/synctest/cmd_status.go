package synctest

import (
	"fmt"
	"strings"
)

// status node=A
//
// Prints A's engine status per connected peer: documents synced on the
// connection and how many are not in sync yet ("none" without peers).
func (env *Env) cmdStatus(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	var out []string
	for _, st := range n.Eng.Status() {
		out = append(out, fmt.Sprintf("%s: peer %s docs=%d pending=%d", n.Name, n.peerName(st.ID), st.Docs, st.Pending))
	}
	if len(out) == 0 {
		return n.Name + ": none", nil
	}
	return strings.Join(out, "\n"), nil
}
