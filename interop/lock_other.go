//go:build !unix

package interop

// lockInstall does nothing where flock is unavailable: run one test
// package at a time there (go test -p 1) the first time.
func lockInstall(dir string) (unlock func(), err error) { return func() {}, nil }
