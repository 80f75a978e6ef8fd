// Package node is one running Outpost node: it wires the document store,
// sync transports, the durable job queue, the hybrid dispatcher and the
// HTTP API (JSON under /api/v1, OpenAI-compatible under /v1) together with
// the dashboard.
//
// It must not contain protocol or model internals: those live in crdt/ and
// inference/, and node only calls their narrow APIs.
//
// Caller's duties:
//  1. New opens the data directory (fails at once if another node holds it).
//  2. Run serves until its context is cancelled, then shuts down gracefully:
//     in-flight requests finish, then the store closes.
//  3. Call Close only for a Node whose Run was never called.
package node
