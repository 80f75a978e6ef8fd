//go:build unix

// Package filelock takes exclusive advisory locks on files, so that
// processes sharing a directory (a data dir's model registry, the npm
// install of the interop clients) take turns.
package filelock

import (
	"os"
	"syscall"
)

// Lock takes an exclusive lock on path (created if missing), waiting for
// any other holder, and returns the function that releases it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
