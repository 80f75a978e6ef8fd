package cpuslot

import (
	"runtime"
	"testing"
)

func TestThreads(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.GOMAXPROCS(1)
	for _, tc := range []struct{ n, want int }{{0, 1}, {-2, 1}, {1, 1}, {4, 1}} {
		if got := Threads(tc.n); got != tc.want {
			t.Errorf("GOMAXPROCS 1: Threads(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	cpus := runtime.NumCPU()
	runtime.GOMAXPROCS(cpus + 8) // set above the CPUs: NumCPU still caps
	for _, tc := range []struct{ n, want int }{{0, cpus}, {1, 1}, {cpus, cpus}, {cpus + 1, cpus}} {
		if got := Threads(tc.n); got != tc.want {
			t.Errorf("%d CPUs: Threads(%d) = %d, want %d", cpus, tc.n, got, tc.want)
		}
	}
}
