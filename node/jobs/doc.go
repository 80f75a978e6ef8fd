// Package jobs is the node's durable job queue: inference requests
// (transcribe, note, diagnose, …) accepted over the API are written to the
// node's Pebble store before they are acknowledged, run by a pool of
// workers, and survive crashes and restarts.
//
// Exactly once: a job's result is a document whose id derives from the job
// id (ResultID), so a job retried after a crash finds the result it already
// wrote instead of making a second one.
//
// It must not know what a job does: kinds are registered as Executors by
// the node.
//
// Caller's duties:
//  1. Register an Executor for every kind before Start; Submit refuses
//     unknown kinds.
//  2. Executors write their result with ResultID(job.ID) (crdt's
//     CreateWithID), and treat crdt.ErrExists as "already done".
//  3. Call Stop before closing the store.
package jobs
