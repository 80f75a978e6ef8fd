package synctest

// add-peer from=A to=B [grants=c1,c2]
//
// A dials B and they complete the join/peer handshake. B sees A with the
// grants of A's token (default: every collection); A sees B with its own
// collections. Nothing is sent until process-ready or stabilize.
func (env *Env) cmdAddPeer(c *Cmd) (string, error) {
	a, err := env.node(c.Arg("from", ""))
	if err != nil {
		return "", err
	}
	b, err := env.node(c.Arg("to", ""))
	if err != nil {
		return "", err
	}
	grants := list(c.Arg("grants", "*"))
	return "", env.Connect(a, b, grants)
}
