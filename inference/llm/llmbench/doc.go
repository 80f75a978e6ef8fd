// Package llmbench measures the LLM engine against a bare llama.cpp decode
// loop over the same package, in the same run, on random-weight models of
// realistic sizes (`outpost bench llm`).
//
// It owns: generating (and caching) the benchmark models, the bare loop, the
// engine runs, and the comparisons the issue sets as goals: the engine's
// prompt and generation rates against the bare loop's (goal ≥ 0.95), and the
// total generation rate of 4 concurrent requests against 1 (goal ≥ 2).
//
// It must not: assert timings (results are reported, not judged, except for
// the goal fields in the comparison records).
//
// Caller's duties: run on an otherwise idle machine; ggml's worker threads
// spin-wait, and competing processes distort results far more than their
// CPU share suggests.
package llmbench
