package synctest

// no-changelog node=A
//
// Makes A's store answer every ChangesSince with "not certain", as a store
// whose logs were folded into snapshots would: A's exchanges of shared
// documents take Automerge's general path instead of fast-forwarding.
func (env *Env) cmdNoChangeLog(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	n.Store.DisableChangeLog()
	return "ok", nil
}

// fail-sync-state node=A doc=D [fail=false]
//
// Makes reading D's sync states from A's store fail, as a damaged disk
// would, or (fail=false) work again.
func (env *Env) cmdFailSyncState(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	n.Store.FailSyncStates(env.DocID(c.Arg("doc", "")), c.Arg("fail", "true") == "true")
	return "ok", nil
}
