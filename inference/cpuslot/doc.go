// Package cpuslot owns the one right to run a ggml computation on this
// machine's cores.
//
// The LLM engine and the Whisper service each size their ggml thread pools
// to every core, and ggml's workers spin at barriers instead of sleeping.
// Two graphs computing at once therefore do not share the cores; they
// thrash them (measured here: a 25M-parameter model on 2 threads fell from
// 239 to 2.4 tokens/s beside a Whisper encoder). Holding a Slot around each
// graph computation runs them one after another instead.
//
// Callers hold the slot for one bounded step (an LLM decode step, one
// Whisper encoder or decoder pass), never for a whole request, so a long
// transcription and a chat reply interleave at step granularity.
package cpuslot
