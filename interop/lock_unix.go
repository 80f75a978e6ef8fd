//go:build unix

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockInstall takes dir's install lock, waiting for another process's
// npm ci to finish.
func lockInstall(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("interop: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}
