package synctest

// tick node=A [n=N]
//
// Advances A's engine clock by n ticks (default 1).
func (env *Env) cmdTick(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	k, err := intArg(c, "n", 1)
	if err != nil {
		return "", err
	}
	for i := 0; i < k; i++ {
		n.Eng.Tick()
	}
	return "", nil
}
