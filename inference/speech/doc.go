// Package speech is the node's transcription service: it keeps Whisper
// models warm (loaded on first use, unloaded when idle or to make room) and
// runs concurrent transcriptions fairly, so that a short clip is never
// stuck behind a long one.
//
// Every ggml computation uses all CPU threads, so the service lets one run
// at a time and, between two computations (one encoder window or one
// decoding step), gives the next turn to the transcription with the least
// audio left (shortest remaining first). A 10 s clip submitted during a
// one-hour transcription waits for one graph of it, not for the hour.
//
// It owns: model lifetimes and the compute schedule. It must not: decode
// audio containers (package audio), store results or know about jobs,
// documents or HTTP (package node).
//
// Callers' duties:
//  1. Resolve model names to files through Options.ModelPath (the model
//     registry).
//  2. Pass 16 kHz mono samples (audio.Decode's output).
//  3. Cancel ctx to stop a transcription; it ends at the next graph.
//  4. Close the service at shutdown.
package speech
