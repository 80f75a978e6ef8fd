//go:build unix && !solaris

package discovery

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reuse lets several mDNS sockets (other responders such as avahi, or
// several nodes on one host) share port 5353.
func reuse(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}
