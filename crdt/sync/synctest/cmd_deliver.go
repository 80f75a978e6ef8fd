package synctest

// deliver from=A to=B [n=N]
//
// Delivers the first n frames (default all) in flight from A to B, in
// order, printing each.
func (env *Env) cmdDeliver(c *Cmd) (string, error) {
	a, err := env.node(c.Arg("from", ""))
	if err != nil {
		return "", err
	}
	b, err := env.node(c.Arg("to", ""))
	if err != nil {
		return "", err
	}
	n, err := intArg(c, "n", -1)
	if err != nil {
		return "", err
	}
	log, err := env.Deliver(a, b, n)
	return lines(log), err
}
