package synctest

// partition A B
//
// Cuts the connection between A and B; frames in flight are lost. Both
// engines forget the peer (its persisted sync state and cursors remain).
func (env *Env) cmdPartition(c *Cmd) (string, error) {
	if len(c.Pos) != 2 {
		return "", errorf("partition A B")
	}
	a, err := env.node(c.Pos[0])
	if err != nil {
		return "", err
	}
	b, err := env.node(c.Pos[1])
	if err != nil {
		return "", err
	}
	env.Disconnect(a, b)
	return "", nil
}
