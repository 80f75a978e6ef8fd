package synctest

// add-node name=N [collections=a,b] [plain]
//
// Without collections the node holds every collection, as a sync server
// does. A plain node announces no Outpost extension (an automerge-repo
// client as far as its peers can tell).
func (env *Env) cmdAddNode(c *Cmd) (string, error) {
	var colls []string
	if v := c.Arg("collections", ""); v != "" {
		colls = list(v)
	}
	_, err := env.AddNode(c.Arg("name", ""), colls, c.Has("plain"))
	return "", err
}
