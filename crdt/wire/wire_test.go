package wire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The frames in testdata/js were written by interop/gen-wire-fixtures.mjs
// with automerge-repo 2.5's own CBOR encoder.
func TestDecodeJSFrames(t *testing.T) {
	c := NewCodec()
	tests := []struct {
		file  string
		check func(t *testing.T, m *Message)
	}{
		{"join.cbor", func(t *testing.T, m *Message) {
			if m.Type != TypeJoin || m.SenderID != "client-1" || m.PeerMetadata == nil ||
				m.PeerMetadata.StorageID != "st-1" || m.PeerMetadata.IsEphemeral ||
				len(m.SupportedProtocolVersions) != 1 || m.SupportedProtocolVersions[0] != ProtocolV1 {
				t.Errorf("join = %+v %+v", m, m.PeerMetadata)
			}
			if m.PeerMetadata.OutpostExt() != nil {
				t.Error("plain client announced the Outpost extension")
			}
		}},
		{"join_ephemeral.cbor", func(t *testing.T, m *Message) {
			if !m.PeerMetadata.IsEphemeral || m.PeerMetadata.StorageID != "" {
				t.Errorf("peerMetadata = %+v", m.PeerMetadata)
			}
		}},
		{"join_undefined_storage.cbor", func(t *testing.T, m *Message) {
			if m.PeerMetadata.StorageID != "" {
				t.Errorf("undefined storageId decoded as %q", m.PeerMetadata.StorageID)
			}
		}},
		{"peer.cbor", func(t *testing.T, m *Message) {
			if m.Type != TypePeer || m.SelectedProtocolVersion != "1" || m.TargetID != "client-1" {
				t.Errorf("peer = %+v", m)
			}
		}},
		{"request.cbor", func(t *testing.T, m *Message) {
			sm, err := ParseSyncMessage(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(sm.Heads) != 0 || !sm.Supports(CapMessageV2) {
				t.Errorf("request sync message = %+v", sm)
			}
		}},
		{"sync.cbor", func(t *testing.T, m *Message) {
			sm, err := ParseSyncMessage(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(sm.Heads) != 1 || sm.Version != SyncV1 {
				t.Errorf("sync message = %+v", sm)
			}
			if !bytes.Equal(sm.Encode(), m.Data) {
				t.Errorf("re-encoded sync message differs:\n%x\n%x", sm.Encode(), m.Data)
			}
		}},
		{"doc_unavailable.cbor", func(t *testing.T, m *Message) {
			if m.Type != TypeDocUnavailable || m.DocumentID == "" {
				t.Errorf("doc-unavailable = %+v", m)
			}
		}},
		{"ephemeral.cbor", func(t *testing.T, m *Message) {
			if m.Count != 7 || m.SessionID != "sess-1" || len(m.Data) == 0 {
				t.Errorf("ephemeral = %+v", m)
			}
		}},
		{"error.cbor", func(t *testing.T, m *Message) {
			if m.ErrorText != "unsupported protocol version" {
				t.Errorf("error text = %q", m.ErrorText)
			}
		}},
		{"remote_heads_changed.cbor", func(t *testing.T, m *Message) {
			if m.Type != TypeRemoteHeadsChanged || !m.Known() {
				t.Errorf("got %+v", m)
			}
		}},
		{"remote_subscription_change.cbor", func(t *testing.T, m *Message) {
			if m.Type != TypeRemoteSubscriptionChange {
				t.Errorf("got %+v", m)
			}
		}},
		{"sync_with_extension.cbor", func(t *testing.T, m *Message) {
			if m.Doc == nil || m.Doc.Collection != "clinic:a" || m.Doc.Type != "note" {
				t.Errorf("doc info = %+v", m.Doc)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			frame, err := os.ReadFile(filepath.Join("testdata", "js", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.Decode(frame)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tt.check(t, m)
			// Our encoding of what we decoded must decode to the same message.
			again, err := c.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := c.Decode(again)
			if err != nil {
				t.Fatalf("Decode(Encode(m)): %v", err)
			}
			if m.String() != m2.String() || !bytes.Equal(m.Data, m2.Data) {
				t.Errorf("round trip: %v != %v", m, m2)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	c := NewCodec()
	docID := EncodeDocumentID([16]byte{1, 2, 3})
	enc := func(m *Message) []byte {
		b, err := c.enc.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "empty frame"},
		{"not cbor", []byte{0xff, 0x00}, "cbor"},
		{"array not map", []byte{0x80}, "cbor"},
		{"no type", enc(&Message{SenderID: "a"}), "missing type"},
		{"sync without doc", enc(&Message{Type: TypeSync, SenderID: "a", TargetID: "b", Data: []byte{1}}), "invalid documentId"},
		{"sync bad checksum", enc(&Message{Type: TypeSync, SenderID: "a", TargetID: "b", DocumentID: docID[:len(docID)-1] + "z", Data: []byte{1}}), "documentId"},
		{"sync without data", enc(&Message{Type: TypeSync, SenderID: "a", TargetID: "b", DocumentID: docID}), "without data"},
		{"request without target", enc(&Message{Type: TypeRequest, SenderID: "a", DocumentID: docID, Data: []byte{1}}), "without targetId"},
		{"ephemeral without session", enc(&Message{Type: TypeEphemeral, SenderID: "a", TargetID: "b", DocumentID: docID}), "sessionId"},
		{"join without sender", enc(&Message{Type: TypeJoin}), "without senderId"},
		{"long sender", enc(&Message{Type: TypeJoin, SenderID: strings.Repeat("x", 300)}), "too long"},
		{"since without collection", enc(&Message{Type: TypeOutpostSince, SenderID: "a"}), "empty collection"},
		{"duplicate key", []byte{0xa2, 0x64, 't', 'y', 'p', 'e', 0x61, 'a', 0x64, 't', 'y', 'p', 'e', 0x61, 'b'}, "duplicate"},
		{"wrong field type", []byte{0xa1, 0x64, 't', 'y', 'p', 'e', 0x01}, "cbor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := c.Decode(tt.frame)
			if err == nil {
				t.Fatalf("Decode(%x) = %v, want error containing %q", tt.frame, m, tt.want)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%x) error = %v, want ErrInvalid containing %q", tt.frame, err, tt.want)
			}
		})
	}
}

func TestUnknownTypeAndKeysIgnored(t *testing.T) {
	c := NewCodec()
	// {"type":"future","senderId":"a","extra":{"x":[1,2]}}
	frame := []byte{0xa3, 0x64, 't', 'y', 'p', 'e', 0x66, 'f', 'u', 't', 'u', 'r', 'e',
		0x68, 's', 'e', 'n', 'd', 'e', 'r', 'I', 'd', 0x61, 'a',
		0x65, 'e', 'x', 't', 'r', 'a', 0xa1, 0x61, 'x', 0x82, 0x01, 0x02}
	m, err := c.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	if m.Known() || m.Type != "future" || m.SenderID != "a" {
		t.Errorf("got %+v known=%v", m, m.Known())
	}
}

func TestDocumentID(t *testing.T) {
	// Written by automerge-repo's generateAutomergeUrl (see testdata/js).
	frame, err := os.ReadFile("testdata/js/sync.cbor")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewCodec().Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := DecodeDocumentID(m.DocumentID)
	if err != nil {
		t.Fatal(err)
	}
	if got := EncodeDocumentID(raw); got != m.DocumentID {
		t.Errorf("EncodeDocumentID(DecodeDocumentID(%q)) = %q", m.DocumentID, got)
	}
	for _, id := range [][16]byte{{}, {0, 0, 1}, {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}} {
		s := EncodeDocumentID(id)
		back, err := DecodeDocumentID(s)
		if err != nil || back != id {
			t.Errorf("round trip of %x via %q = %x, %v", id, s, back, err)
		}
	}
	for _, bad := range []string{"", "0OIl", "abc", strings.Repeat("z", 40), "automerge:" + m.DocumentID} {
		if ValidDocumentID(bad) {
			t.Errorf("ValidDocumentID(%q) = true", bad)
		}
	}
}

func TestSyncMessageRoundTrip(t *testing.T) {
	h := func(b byte) Hash { var x Hash; x[0] = b; return x }
	msgs := []*SyncMessage{
		{Version: SyncV1},
		{Version: SyncV1, Heads: []Hash{h(1), h(2)}, Need: []Hash{h(3)}, Have: []Have{{LastSync: []Hash{h(4)}, Bloom: []byte{1, 10, 7, 9, 9}}}, Changes: [][]byte{{1, 2, 3}, {4}}},
		{Version: SyncV2, Heads: []Hash{h(1)}, Have: []Have{{}}, Changes: [][]byte{make([]byte, 300)}, Capabilities: []byte{CapMessageV1, CapMessageV2}},
		{Version: SyncV1, Capabilities: []byte{}},
	}
	for i, m := range msgs {
		b := m.Encode()
		got, err := ParseSyncMessage(b)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !bytes.Equal(got.Encode(), b) {
			t.Errorf("%d: re-encoding differs", i)
		}
		if got.Supports(CapMessageV2) != m.Supports(CapMessageV2) || got.ChangeBytes() != m.ChangeBytes() {
			t.Errorf("%d: got %+v want %+v", i, got, m)
		}
	}
	for _, bad := range [][]byte{nil, {0x41}, {0x42}, {0x42, 0x05}, {0x42, 0, 0, 1}, {0x42, 0, 0, 0, 1, 10, 1}, {0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, err := ParseSyncMessage(bad); !errors.Is(err, ErrSyncMessage) {
			t.Errorf("ParseSyncMessage(%x) error = %v", bad, err)
		}
	}
}

func TestBloomValidation(t *testing.T) {
	msg := func(bloom []byte) []byte {
		return (&SyncMessage{Version: SyncV1, Have: []Have{{Bloom: bloom}}}).Encode()
	}
	ok := [][]byte{nil, {0, 10, 7}, {1, 10, 7, 0, 0}, {3, 10, 7, 1, 2, 3, 4}}
	for _, b := range ok {
		if _, err := ParseSyncMessage(msg(b)); err != nil {
			t.Errorf("bloom %x: %v", b, err)
		}
	}
	bad := [][]byte{
		{1, 0, 7},           // zero bits with entries: Automerge divides by zero
		{1, 10, 0, 0, 0},    // no probes
		{1, 10, 200, 0, 0},  // absurd probe count
		{1, 10, 7, 0},       // bits too short
		{1, 10, 7, 0, 0, 0}, // bits too long
		{0xff},              // truncated uleb
	}
	for _, b := range bad {
		if _, err := ParseSyncMessage(msg(b)); !errors.Is(err, ErrSyncMessage) {
			t.Errorf("bloom %x accepted (err %v)", b, err)
		}
	}
}

func TestChunkType(t *testing.T) {
	if _, ok := ChunkType([]byte{1, 2, 3}); ok {
		t.Error("short input is a chunk")
	}
	typ, ok := ChunkType([]byte{0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, ChunkDocument, 1})
	if !ok || typ != ChunkDocument {
		t.Errorf("ChunkType = %d, %v", typ, ok)
	}
}
