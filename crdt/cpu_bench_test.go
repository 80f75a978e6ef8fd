package crdt

import (
	"context"
	"fmt"
	"testing"

	"github.com/automerge/automerge-go"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkUpdateCPU measures the store's own work per write, on an
// in-memory filesystem where syncing costs nothing.
func BenchmarkUpdateCPU(b *testing.B) {
	s, err := Open("/b", Options{FS: vfs.NewMem(), CompactChanges: 1 << 30, CompactBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ids := make([]DocID, 100)
	for i := range ids {
		m, _ := s.Create(ctx, "bench", "bench:0", nil)
		ids[i] = m.ID
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("k%d", i)
		if _, err := s.Update(ctx, ids[i%len(ids)], "", func(d *automerge.Doc) error { return d.RootMap().Set(key, int64(i)) }); err != nil {
			b.Fatal(err)
		}
	}
}
