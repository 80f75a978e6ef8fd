package vorbis

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error the decoder returns wraps exactly one.
var (
	// ErrCorrupt means the stream violates the Ogg or Vorbis I format.
	ErrCorrupt = errors.New("vorbis: corrupt stream")
	// ErrTruncated means the stream ends before its last page or packet.
	ErrTruncated = errors.New("vorbis: truncated stream")
	// ErrUnsupported means a valid stream uses a feature this decoder lacks
	// (floor type 0, a non-Vorbis codec in the Ogg container) or exceeds a
	// resource limit.
	ErrUnsupported = errors.New("vorbis: unsupported stream")
)

// kindError carries a sentinel for errors.Is without repeating its text.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func corruptf(format string, args ...any) error {
	return &kindError{ErrCorrupt, "vorbis: " + fmt.Sprintf(format, args...)}
}

func truncatedf(format string, args ...any) error {
	return &kindError{ErrTruncated, "vorbis: " + fmt.Sprintf(format, args...)}
}

func unsupportedf(format string, args ...any) error {
	return &kindError{ErrUnsupported, "vorbis: " + fmt.Sprintf(format, args...)}
}
