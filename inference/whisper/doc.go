// Package whisper is the Whisper speech-to-text engine: OpenAI's Whisper
// written in Go over ggml (through ollama's ml backend), loading the model
// files whisper.cpp users already have (ggml-tiny.en.bin ... large-v3,
// turbo; f32, f16 and whisper.cpp's q4_0/q4_1/q5_0/q5_1/q8_0).
//
// It owns: reading and validating the legacy whisper.cpp file (format.go,
// hparams.go; nothing reaches ggml before the Go reader accepts the file),
// the log-mel spectrogram (mel.go, fft.go), the encoder and decoder as
// weight structs with Forward methods (encoder.go, decoder.go, layers.go),
// the tokenizer (tokenizer.go), decoding as openai/whisper does it (greedy,
// beam search, temperature fallback, timestamp rules, no-speech detection;
// decoding.go, transcribe.go) and output formats (format_*.go).
//
// It must not: know about documents, sync, HTTP or jobs; decode audio
// containers (package audio does that and hands over 16 kHz mono samples);
// schedule concurrent transcriptions (package speech does, through Gate).
//
// Callers' duties:
//  1. Load a model once and share it: Load copies the weights into a
//     temporary GGUF file for ggml's loader (the model directory or TempDir
//     needs room for one copy while loading) and allocates them in RAM.
//  2. Pass 16 kHz mono float32 samples in [-1, 1].
//  3. Close the model when done; no call may be in flight.
//  4. Compute on one model at a time in a process (a Gate can order them,
//     as package speech does). A model serializes its own graphs, but
//     ollama's ml backends share one CPU backend, with its work buffer and
//     its thread pool (llamaext.ShareBackendPool).
package whisper
