// Package llamaext reaches the parts of llama.cpp that
// github.com/ollama/ollama/llama compiles into the binary but does not wrap.
//
// It owns: freeing a context (the llama package has no Context.Free), a
// context's logits as a writable slice, llama.cpp's built-in chat
// templates, routing llama.cpp's log lines to slog, and persistent compute
// thread pools.
//
// It must not: keep state of its own. Only C prototypes are repeated here;
// the definitions are linked from the llama package.
//
// Caller's duties:
//  1. Pin github.com/ollama/ollama: Ptr reads an unexported field of
//     llama.Context and NewPool a ggml struct whose layout is repeated
//     here. Both check the layout they rely on and report failure (nil, an
//     error) instead of corrupting memory if it changes.
//  2. Touch a context from one goroutine at a time, and free a Pool only
//     after every context it is attached to (Free frees them in order).
package llamaext
