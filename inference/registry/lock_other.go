//go:build !unix

package registry

// lockDir is a no-op where flock is unavailable: a single process per data
// dir is then the caller's duty.
func lockDir(dir string) (unlock func(), err error) { return func() {}, nil }
