//go:build unix

package filelock

import (
	"path/filepath"
	"testing"
	"time"
)

func TestLockWaitsForHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := Lock(path)
		if err != nil {
			t.Error(err)
			u = func() {}
		}
		got <- u
	}()
	select {
	case u := <-got:
		u()
		t.Fatal("a second Lock returned while the first was held")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	(<-got)()
}
