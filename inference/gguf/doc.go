// Package gguf reads and writes the GGUF model container format.
//
// It owns: a bounded reader for the header (key/value metadata and tensor
// infos) that rejects corrupt or hostile files with a clear error before any
// of their bytes reach llama.cpp (whose GGML_ASSERTs abort the process), a
// streaming writer, and the Go quantizers (F16, Q8_0, Q4_0) the writer needs.
//
// It must not: load tensor data into memory as a whole, know about models'
// architectures beyond the metadata keys it is asked for, or call C.
//
// Caller's duties:
//  1. Pass ReadHeader the file's true size: every count in the header is
//     checked against the bytes that remain, which is what bounds memory.
//  2. Call (*File).Validate with that size too before handing the file to
//     llama.cpp: it checks that every tensor's data lies inside the file.
package gguf
