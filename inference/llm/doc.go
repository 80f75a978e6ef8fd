// Package llm runs large language models on the CPU through llama.cpp (the
// vendored sources in github.com/ollama/ollama/llama, pinned at v0.17.4).
//
// It owns: the model lifecycle (load on first use, keep warm, unload when
// idle or when the memory budget needs room, refuse a model that cannot fit),
// one batched decode loop per loaded model that serves several requests at
// once as parallel sequences (on a thread pool of its own, see package
// llamaext), chat templates, sampling, stop sequences,
// UTF-8-safe streaming, and JSON-schema-constrained output (schema → GBNF
// grammar → constrained sampling → validation of the result).
//
// It must not: know about documents, jobs, HTTP or where models come from
// (Options.Resolve maps a name to a file).
//
// Caller's duties:
//  1. Create one Engine per process (llama.cpp's logger and backend are
//     process-wide) and Close it on shutdown.
//  2. Pass a context that ends when the requester goes away: cancelling it
//     frees the request's sequence at the next decode step.
//  3. Treat Response.Text as untrusted model output. It is valid UTF-8 (byte
//     tokens that do not form valid UTF-8 become U+FFFD); with JSONSchema set
//     and FinishReason "stop" it has also been parsed and validated against
//     the schema, otherwise Generate returns ErrInvalidOutput.
//  4. Keep the onToken callback quick: it runs on the request's goroutine,
//     not the decode loop, but a slow consumer still delays its own request.
package llm
