package audio

import (
	"bufio"
	"errors"
	"io"

	"github.com/outposthq/outpost/inference/audio/vorbis"
)

type oggSource struct {
	dec *vorbis.Decoder
}

func openOgg(br *bufio.Reader) (source, Info, error) {
	info := Info{Format: "ogg"}
	dec, err := vorbis.NewDecoder(br)
	if err != nil {
		return nil, info, classifyVorbis(err)
	}
	info.SampleRate, info.Channels = dec.SampleRate(), dec.Channels()
	return &oggSource{dec: dec}, info, nil
}

func (s *oggSource) next() ([]float32, error) {
	out, err := s.dec.Next()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, classifyVorbis(err)
	}
	return out, nil
}

// classifyVorbis maps the vorbis package's sentinels onto ours; any other
// error came from reading the input.
func classifyVorbis(err error) error {
	msg := "audio: " + err.Error()
	for _, k := range []struct{ theirs, ours error }{
		{vorbis.ErrCorrupt, ErrCorrupt},
		{vorbis.ErrTruncated, ErrTruncated},
		{vorbis.ErrUnsupported, ErrUnsupported},
	} {
		if errors.Is(err, k.theirs) {
			return &decodeError{kind: k.ours, msg: msg, err: err}
		}
	}
	return err
}
