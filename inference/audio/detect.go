package audio

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// sniff identifies the format from the first bytes, skipping ID3v2 tags
// (MP3 files carry them, and some FLAC taggers prepend them too).
func sniff(br *bufio.Reader) (string, error) {
	for tags := 0; ; tags++ {
		head, _ := br.Peek(12)
		if len(head) == 0 {
			if tags > 0 {
				return "", errorf(ErrTruncated, "input ends after its ID3 tag")
			}
			return "", errorf(ErrTruncated, "empty input")
		}
		if !bytes.HasPrefix(head, []byte("ID3")) {
			return identify(head)
		}
		if err := skipID3v2(br); err != nil {
			return "", err
		}
	}
}

// skipID3v2 discards one ID3v2 tag without buffering it: its size field
// can claim 256 MiB.
func skipID3v2(br *bufio.Reader) error {
	var h [10]byte
	if n, err := io.ReadFull(br, h[:]); err != nil {
		return errorf(ErrTruncated, "id3: tag header: have %d of 10 bytes", n)
	}
	for _, b := range h[6:10] {
		if b&0x80 != 0 {
			return errorf(ErrCorrupt, "id3: tag size is not a synchsafe integer")
		}
	}
	size := int64(h[6])<<21 | int64(h[7])<<14 | int64(h[8])<<7 | int64(h[9])
	if h[5]&0x10 != 0 { // footer present
		size += 10
	}
	n, _ := io.CopyN(io.Discard, br, size)
	if n < size {
		return errorf(ErrTruncated, "id3: tag: have %d of %d bytes", n, size)
	}
	return nil
}

func identify(h []byte) (string, error) {
	has := func(off int, magic string) bool {
		return len(h) >= off+len(magic) && string(h[off:off+len(magic)]) == magic
	}
	switch {
	case (has(0, "RIFF") || has(0, "RIFX") || has(0, "RF64") || has(0, "BW64")) && has(8, "WAVE"):
		return "wav", nil
	case has(0, "fLaC"):
		return "flac", nil
	case has(0, "OggS"):
		return "ogg", nil
	case len(h) >= 4 && h[0] == 0xff && h[1]&0xe0 == 0xe0:
		return identifyMPEG(h)
	}
	name := ""
	switch {
	case has(0, "FORM") && (has(8, "AIFF") || has(8, "AIFC")):
		name = "AIFF"
	case has(0, "RIFF") && len(h) >= 12:
		name = fmt.Sprintf("RIFF %q (not WAVE)", h[8:12])
	case has(4, "ftyp"):
		name = "MP4/M4A"
	case has(0, "\x1a\x45\xdf\xa3"):
		name = "Matroska/WebM"
	case has(0, "#!AMR"):
		name = "AMR"
	case has(0, "caff"):
		name = "CAF"
	case has(0, ".snd"):
		name = "Sun AU"
	case has(0, "MThd"):
		name = "MIDI"
	}
	if name != "" {
		return "", errorf(ErrUnsupported, "%s is not supported (supported: WAV, MP3, FLAC, Ogg Vorbis)", name)
	}
	return "", errorf(ErrUnsupported, "unrecognised format, first bytes % x (supported: WAV, MP3, FLAC, Ogg Vorbis)", h[:min(8, len(h))])
}

// identifyMPEG accepts an MPEG audio sync word only with a plausible Layer
// III header, so that random bytes starting 0xff are not taken for MP3.
func identifyMPEG(h []byte) (string, error) {
	version := h[1] >> 3 & 3
	layer := h[1] >> 1 & 3
	if version == 1 {
		return "", errorf(ErrUnsupported, "unrecognised format, first bytes % x (supported: WAV, MP3, FLAC, Ogg Vorbis)", h[:4])
	}
	if layer == 0 {
		return "", errorf(ErrUnsupported, "AAC (ADTS) is not supported (supported: WAV, MP3, FLAC, Ogg Vorbis)")
	}
	if layer != 1 {
		return "", errorf(ErrUnsupported, "mp3: MPEG layer %d is not supported, only layer III", 4-layer)
	}
	if h[2]>>4 == 15 || h[2]>>2&3 == 3 {
		return "", errorf(ErrUnsupported, "unrecognised format, first bytes % x (supported: WAV, MP3, FLAC, Ogg Vorbis)", h[:4])
	}
	return "mp3", nil
}
