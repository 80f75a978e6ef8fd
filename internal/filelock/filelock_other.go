//go:build !unix

// Package filelock takes exclusive advisory locks on files, so that
// processes sharing a directory (a data dir's model registry, the npm
// install of the interop clients) take turns.
package filelock

// Lock does nothing where flock is unavailable: callers then rely on one
// process at a time.
func Lock(path string) (unlock func(), err error) { return func() {}, nil }
