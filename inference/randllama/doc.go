// Package randllama writes llama-architecture GGUF models with random
// weights, for tests and benchmarks on machines that cannot download real
// models.
//
// It owns: model dimensions (presets such as "25M" and "300M", or explicit),
// a small SentencePiece-style vocabulary (control tokens, the 256 byte tokens
// <0x00>..<0xFF>, and word pieces with every prefix so that llama.cpp's SPM
// tokenizer can merge them), a ChatML chat template, and weights scaled so
// that inference stays finite. The file's metadata (general.description and
// outpost.random_weights) says the weights are random.
//
// It must not: pretend to be a real model. Generated text is gibberish; only
// its cost and the code paths it exercises are real. Compute cost does not
// depend on the weights' values, which is what makes these files valid
// benchmarks.
//
// Caller's duties: pick a Config that Validate accepts (row lengths must be
// multiples of 32 for the quantized types).
package randllama
