package synctest

// restart node=A
//
// Kills A's engine and connections and starts a new engine (a new peer id)
// over the same store.
func (env *Env) cmdRestart(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	return "", env.Restart(n)
}
