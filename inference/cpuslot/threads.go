package cpuslot

import "runtime"

// Threads returns how many threads a ggml computation should use: n, or
// every CPU this process may run on if n is 0 or more than that. The CPUs
// available are runtime.NumCPU, or fewer under a container's CPU limit
// (Go's default GOMAXPROCS follows it). More threads than CPUs are never
// faster: ggml's workers spin at a barrier after every operation, and one
// whose thread the kernel has descheduled stalls the others until it runs
// again (measured here: 3 threads on 2 cores made a 25M-parameter model's
// benchmark run longer than 5 minutes instead of 15 seconds).
func Threads(n int) int {
	avail := min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if n <= 0 || n > avail {
		return avail
	}
	return n
}
