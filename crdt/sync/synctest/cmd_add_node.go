package synctest

// add-node name=N [collections=a,b] [plain] [vet]
//
// Without collections the node holds every collection, as a sync server
// does. A plain node announces no Outpost extension (an automerge-repo
// client as far as its peers can tell). A vet node refuses bytes from
// peers that hold Poison (see Node.Vet).
func (env *Env) cmdAddNode(c *Cmd) (string, error) {
	var colls []string
	if v := c.Arg("collections", ""); v != "" {
		colls = list(v)
	}
	_, err := env.AddNodeWith(c.Arg("name", ""), colls, func(n *Node) {
		n.Plain, n.Vet = c.Has("plain"), c.Has("vet")
	})
	return "", err
}
