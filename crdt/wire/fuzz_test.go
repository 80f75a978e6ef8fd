package wire

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func addJSSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", "js", "*.cbor"))
	var frames [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		frames = append(frames, b)
	}
	return frames
}

// FuzzDecode: no input may crash the decoder, and whatever it accepts must
// survive re-encoding.
func FuzzDecode(f *testing.F) {
	for _, b := range addJSSeeds(f) {
		f.Add(b)
	}
	c := NewCodec()
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := c.Decode(frame)
		if err != nil {
			return
		}
		b, err := c.Encode(m)
		if err != nil {
			t.Fatalf("Encode of decoded message: %v", err)
		}
		m2, err := c.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(m)) = %v for %+v", err, m)
		}
		if m.String() != m2.String() || !bytes.Equal(m.Data, m2.Data) {
			t.Fatalf("round trip changed %v to %v", m, m2)
		}
	})
}

// FuzzParseSyncMessage: the Automerge sync message parser is total, and what
// it accepts re-encodes to a message that parses the same.
func FuzzParseSyncMessage(f *testing.F) {
	c := NewCodec()
	for _, b := range addJSSeeds(f) {
		if m, err := c.Decode(b); err == nil && len(m.Data) > 0 && (m.Type == TypeSync || m.Type == TypeRequest) {
			f.Add(m.Data)
		}
	}
	f.Add([]byte{0x43, 0, 0, 1, 0, 0, 1, 3, 1, 2, 3, 2, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSyncMessage(b)
		if err != nil {
			return
		}
		again := m.Encode()
		m2, err := ParseSyncMessage(again)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if !bytes.Equal(m2.Encode(), again) {
			t.Fatal("encoding is not stable")
		}
	})
}
