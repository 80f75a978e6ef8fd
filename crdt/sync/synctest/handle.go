package synctest

import (
	"fmt"
	"strconv"
	"strings"
)

// Handle runs one scenario command. Each command is in its own file:
// add-node, add-peer, change, deliver, process-ready, partition, restart,
// stabilize, tick, heads, show, find, send, no-changelog, fail-sync-state,
// status.
func (env *Env) Handle(c *Cmd) (string, error) {
	h, ok := map[string]func(*Cmd) (string, error){
		"add-node":        env.cmdAddNode,
		"add-peer":        env.cmdAddPeer,
		"change":          env.cmdChange,
		"deliver":         env.cmdDeliver,
		"process-ready":   env.cmdProcessReady,
		"partition":       env.cmdPartition,
		"restart":         env.cmdRestart,
		"stabilize":       env.cmdStabilize,
		"tick":            env.cmdTick,
		"heads":           env.cmdHeads,
		"show":            env.cmdShow,
		"find":            env.cmdFind,
		"send":            env.cmdSend,
		"no-changelog":    env.cmdNoChangeLog,
		"fail-sync-state": env.cmdFailSyncState,
		"status":          env.cmdStatus,
	}[c.Name]
	if !ok {
		return "", fmt.Errorf("unknown command %q", c.Name)
	}
	return h(c)
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func intArg(c *Cmd, key string, def int) (int, error) {
	v := c.Arg(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", key, v, err)
	}
	return n, nil
}

func lines(l []string) string { return strings.Join(l, "\n") }
