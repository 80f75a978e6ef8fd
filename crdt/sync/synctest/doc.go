// Package synctest holds test doubles for the sync engine: MemStore, an
// in-memory document store that implements sync.Storage and applies a
// Ready the way synclink's Pebble adapter does; Env, nodes running engines
// over in-memory links that carry encoded frames, driven step by step; and
// the scenario-script runner and its commands (one file each) used by
// crdt/sync/testdata.
//
// It must not be imported by production code. Everything in it is
// deterministic: fixed actors and clock for edits, sorted iteration, no
// goroutines, so a script's output is the same on every run.
package synctest
