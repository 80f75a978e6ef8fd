package synctest

import "fmt"

// process-ready node=A [crash]
//
// Runs one Ready of A: persists, queues its messages, Advances. With crash
// A dies after persisting the changes and before the rest (then restarts).
// Prints writes and the number of messages queued.
func (env *Env) cmdProcessReady(c *Cmd) (string, error) {
	n, err := env.node(c.Arg("node", ""))
	if err != nil {
		return "", err
	}
	before := env.Pending()
	log, err := env.Process(n, c.Has("crash"))
	if q := env.Pending() - before; q > 0 {
		log = append(log, fmt.Sprintf("%s: %d messages queued", n.Name, q))
	}
	return lines(log), err
}
