// Package vorbis decodes Ogg Vorbis audio (Vorbis I) in pure Go.
//
// It owns the Ogg page and packet layer (capture pattern, CRC, lacing,
// multiplexed and chained logical streams) and the Vorbis I codec: header
// parsing, Huffman/VQ codebooks, floor type 1, residue types 0, 1 and 2,
// mapping type 0 with channel coupling, the inverse MDCT and overlap-add,
// and granule-position trimming at both ends of the stream.
//
// It must not: resample, downmix, know about files or container formats
// other than Ogg, or allocate memory in proportion to a header field that
// the input's own size does not back (codebook and table sizes are capped).
// Floor type 0 (deprecated, not produced by any encoder since 2001) is
// reported as ErrUnsupported.
//
// Caller's duties:
//  1. Hand NewDecoder a reader positioned at the first Ogg page.
//  2. Call Next until it returns io.EOF; every other error is final.
//  3. Classify failures with errors.Is against ErrCorrupt, ErrTruncated and
//     ErrUnsupported; never parse messages.
//  4. Recover nothing: the decoder does not panic on bad input (that is
//     fuzzed); a panic is a bug to report.
package vorbis
