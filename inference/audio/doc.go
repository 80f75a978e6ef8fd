// Package audio turns audio files into the 16 kHz mono float32 samples that
// speech recognition consumes.
//
// It owns: format detection by content (magic bytes, never file names);
// decoders for WAV (RIFF, RIFX, RF64/BW64, WAVE_FORMAT_EXTENSIBLE; 8/16/24/
// 32-bit PCM, 32/64-bit float, A-law, µ-law), MP3 (MPEG-1 and MPEG-2 Layer
// III through github.com/hajimehoshi/go-mp3, with LAME gapless trimming),
// FLAC (through github.com/mewkiz/flac) and Ogg Vorbis (our own decoder in
// the vorbis subpackage); a channel downmix; and a band-limited polyphase
// windowed-sinc resampler.
//
// It must not: know about models, documents, jobs or HTTP; read file names
// to guess formats; panic or allocate memory that the input does not back.
// Third-party decoders run behind recover, and fuzz targets cover every
// decoder.
//
// Caller's duties:
//  1. Pass the whole stream; Decode reads r to the end of the audio (it may
//     stop before trailing bytes that follow the audio) and never closes it.
//  2. Classify errors with errors.Is against ErrUnsupported, ErrTruncated,
//     ErrCorrupt and ErrTooLong; any other error came from reading r.
//  3. Budget memory: Decode holds its whole output, 64 KiB per second of
//     audio, at most MaxDuration (about 0.9 GB). Servers that accept uploads
//     should use DecodeLimit with a smaller limit.
//  4. Nothing else: the functions keep no state and are safe for concurrent
//     use.
//  5. Expect samples in [-1, 1] (out-of-range float input is clipped, NaN
//     becomes 0) and Info describing the source stream, not the output.
package audio
