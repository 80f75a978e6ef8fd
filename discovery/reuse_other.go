//go:build !unix || solaris

package discovery

import "syscall"

// reuse is a no-op here: the port is not shared.
func reuse(_, _ string, _ syscall.RawConn) error { return nil }
