package wire

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// MaxFrame bounds one message. The largest legitimate message is a sync
// message carrying a whole document; documents hold text and metadata (audio
// lives in blobs), so 64 MiB is far above any real one.
const MaxFrame = 64 << 20

// Codec encodes and decodes messages. It is safe for concurrent use and
// holds no mutable state; build one with NewCodec and share it.
type Codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

// NewCodec returns a codec whose decoder refuses duplicate keys and deep or
// huge structures, so that a hostile peer cannot make it allocate much more
// than the frame it sent.
func NewCodec() *Codec {
	enc, err := cbor.EncOptions{}.EncMode()
	if err != nil {
		panic(fmt.Sprintf("wire: cbor encoder options: %v", err)) // constant options
	}
	dec, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  16,
		MaxArrayElements: 8192,
		MaxMapPairs:      1024,
		IndefLength:      cbor.IndefLengthAllowed,
		// Unknown keys decode into nothing; an interface{} value (there is
		// none in Message) would become a string-keyed map.
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("wire: cbor decoder options: %v", err)) // constant options
	}
	return &Codec{enc: enc, dec: dec}
}

// Encode returns the CBOR encoding of m, one WebSocket frame.
func (c *Codec) Encode(m *Message) ([]byte, error) {
	b, err := c.enc.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", m.Type, err)
	}
	return b, nil
}

// Decode parses one frame and validates it. Errors wrap ErrInvalid.
func (c *Codec) Decode(frame []byte) (*Message, error) {
	if len(frame) == 0 {
		return nil, invalid("empty frame")
	}
	if len(frame) > MaxFrame {
		return nil, invalid("frame of %d bytes exceeds %d", len(frame), MaxFrame)
	}
	var m Message
	if err := c.dec.Unmarshal(frame, &m); err != nil {
		return nil, fmt.Errorf("%w: cbor: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
