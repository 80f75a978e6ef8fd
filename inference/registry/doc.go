// Package registry keeps the models a node can use: files in
// <data>/models/ described by a manifest (manifest.json) of name, file,
// format, kind, size, SHA-256, source, time added and format details.
//
// It owns: pulling a model from the built-in catalog or a URL (resumable
// download to a .partial file, SHA-256 verification, header validation, and
// only then a rename to the final name), importing a local file (hard link or
// copy), listing, inspecting and removing models, and atomic manifest
// updates that are safe against other processes on the same data dir (the
// CLI while a node runs).
//
// It must not: load models for inference, or know about documents or jobs.
//
// Caller's duties:
//  1. Open the registry on the data dir the node uses, with an Inspect
//     function for every format it should accept besides GGUF (Whisper's
//     comes from inference/whisper): a file no inspector validates is
//     refused, so nothing unvalidated is ever listed.
//  2. Pass a context to Pull and Import; cancelling keeps a pull's .partial
//     file so the next Pull of the same source resumes.
package registry
