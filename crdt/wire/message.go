package wire

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Message types of automerge-repo's network protocol (protocol version "1").
const (
	// TypeJoin is a client's first message: its peer id, metadata and the
	// protocol versions it speaks.
	TypeJoin = "join"
	// TypePeer is the server's answer to join: its peer id and metadata and
	// the selected protocol version.
	TypePeer = "peer"
	// TypeRequest is a sync message from a peer that does not have the
	// document and asks for it.
	TypeRequest = "request"
	// TypeSync carries one Automerge sync message for one document.
	TypeSync = "sync"
	// TypeDocUnavailable tells a requester that neither the sender nor any
	// peer it asked has the document.
	TypeDocUnavailable = "doc-unavailable"
	// TypeEphemeral is application data about a document (presence, cursors)
	// that is relayed but never stored.
	TypeEphemeral = "ephemeral"
	// TypeError is sent before the sender closes the connection.
	TypeError = "error"
	// TypeRemoteSubscriptionChange and TypeRemoteHeadsChanged belong to
	// automerge-repo's remote-heads gossip, which Outpost does not take part
	// in: they are decoded and ignored.
	TypeRemoteSubscriptionChange = "remote-subscription-change"
	TypeRemoteHeadsChanged       = "remote-heads-changed"

	// TypeOutpostSince (extension, Outpost peers only) asks the receiver to
	// start syncing every document of Collection whose change sequence on the
	// receiver is above Seq. Empty reports that the sender holds no document
	// of the collection, so the receiver may send whole documents at once.
	TypeOutpostSince = "outpost-since"
	// TypeOutpostCursor (extension, Outpost peers only) tells the receiver
	// that every document of Collection up to the sender's sequence Seq has
	// been offered earlier on this connection; once those syncs complete the
	// receiver may persist Seq as its cursor for the sender.
	TypeOutpostCursor = "outpost-cursor"
)

// ProtocolV1 is the only protocol version automerge-repo 2.x speaks.
const ProtocolV1 = "1"

// OutpostVersion is the version of Outpost's extension announced in
// PeerMetadata.Outpost.
const OutpostVersion = 1

// Message is any message of the protocol. automerge-repo messages are CBOR
// maps whose keys depend on the type; Message has a field for each key any
// type uses, and empty fields are left out of the encoding.
type Message struct {
	Type       string `cbor:"type"`
	SenderID   string `cbor:"senderId,omitempty"`
	TargetID   string `cbor:"targetId,omitempty"`
	DocumentID string `cbor:"documentId,omitempty"`
	// Data is the Automerge sync message (request, sync) or the
	// application's CBOR payload (ephemeral).
	Data []byte `cbor:"data,omitempty"`

	// Count and SessionID identify an ephemeral message so that relays can
	// drop repeats; a relay forwards them unchanged, with SenderID.
	Count     uint64 `cbor:"count,omitempty"`
	SessionID string `cbor:"sessionId,omitempty"`

	// Handshake (join, peer).
	PeerMetadata              *PeerMetadata `cbor:"peerMetadata,omitempty"`
	SupportedProtocolVersions []string      `cbor:"supportedProtocolVersions,omitempty"`
	SelectedProtocolVersion   string        `cbor:"selectedProtocolVersion,omitempty"`

	// ErrorText is the "message" key of an error message.
	ErrorText string `cbor:"message,omitempty"`

	// Doc (extension) tells an Outpost peer the store metadata of the
	// document of a request or sync message. automerge-repo ignores it.
	Doc *DocInfo `cbor:"outpost,omitempty"`

	// Collection and Seq are the fields of the outpost-since and
	// outpost-cursor extension messages.
	Collection string `cbor:"collection,omitempty"`
	Seq        uint64 `cbor:"seq,omitempty"`
	Empty      bool   `cbor:"empty,omitempty"`
}

// PeerMetadata is what a peer says about itself in join and peer.
type PeerMetadata struct {
	// StorageID names the peer's storage; sync states are persisted under
	// it. Peers without one (or ephemeral ones) get no persisted state.
	StorageID   string `cbor:"storageId,omitempty"`
	IsEphemeral bool   `cbor:"isEphemeral,omitempty"`
	// Outpost announces the Outpost extension. Only a peer that announced it
	// is sent Message.Doc and the outpost-* message types.
	Outpost *OutpostMeta `cbor:"outpost,omitempty"`
}

// OutpostMeta is the Outpost extension's part of PeerMetadata.
type OutpostMeta struct {
	Version uint64 `cbor:"v"`
	// Collections the peer holds and wants to sync. The other side syncs
	// the intersection with what it holds and what the peer's token grants.
	Collections []string `cbor:"collections,omitempty"`
	// Name is the node's name, for status pages and logs.
	Name string `cbor:"name,omitempty"`
}

// DocInfo is a document's store metadata, which is not part of its
// Automerge body.
type DocInfo struct {
	Collection string `cbor:"collection"`
	Type       string `cbor:"type,omitempty"`
}

// Limits on field sizes. automerge-repo peer ids are short random strings
// and document ids are 16-byte bs58check strings; anything far larger is an
// attack or a bug.
const (
	maxIDLen         = 256
	maxCollectionLen = 256
	maxCollections   = 4096
	maxTextLen       = 4096
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid message")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Known reports whether the type is one this package knows. Unknown types
// decode without error so that newer peers can add types; callers ignore
// them, as automerge-repo does.
func (m *Message) Known() bool {
	switch m.Type {
	case TypeJoin, TypePeer, TypeRequest, TypeSync, TypeDocUnavailable,
		TypeEphemeral, TypeError, TypeRemoteSubscriptionChange,
		TypeRemoteHeadsChanged, TypeOutpostSince, TypeOutpostCursor:
		return true
	}
	return false
}

// Validate checks that a message has the fields its type requires and that
// none is oversized. Decode calls it; senders may call it in tests.
func (m *Message) Validate() error {
	if m.Type == "" {
		return invalid("missing type")
	}
	if len(m.Type) > maxIDLen {
		return invalid("type too long")
	}
	if len(m.SenderID) > maxIDLen || len(m.TargetID) > maxIDLen || len(m.SessionID) > maxIDLen {
		return invalid("senderId, targetId or sessionId too long")
	}
	if len(m.ErrorText) > maxTextLen {
		m.ErrorText = m.ErrorText[:maxTextLen]
	}
	if m.PeerMetadata != nil {
		if err := m.PeerMetadata.validate(); err != nil {
			return err
		}
	}
	if m.Doc != nil {
		if err := validCollection(m.Doc.Collection); err != nil {
			return err
		}
		if len(m.Doc.Type) > maxCollectionLen || !utf8.ValidString(m.Doc.Type) || strings.ContainsRune(m.Doc.Type, 0) {
			return invalid("bad doc type")
		}
	}
	switch m.Type {
	case TypeJoin:
		if m.SenderID == "" {
			return invalid("join without senderId")
		}
		if len(m.SupportedProtocolVersions) > 64 {
			return invalid("too many protocol versions")
		}
	case TypePeer:
		if m.SenderID == "" {
			return invalid("peer without senderId")
		}
	case TypeRequest, TypeSync:
		if err := m.needRouting(); err != nil {
			return err
		}
		if len(m.Data) == 0 {
			return invalid("%s without data", m.Type)
		}
	case TypeDocUnavailable:
		return m.needRouting()
	case TypeEphemeral:
		if err := m.needRouting(); err != nil {
			return err
		}
		if m.SessionID == "" {
			return invalid("ephemeral without sessionId")
		}
	case TypeOutpostSince, TypeOutpostCursor:
		if m.SenderID == "" {
			return invalid("%s without senderId", m.Type)
		}
		return validCollection(m.Collection)
	}
	return nil
}

func (m *Message) needRouting() error {
	if m.SenderID == "" {
		return invalid("%s without senderId", m.Type)
	}
	if m.TargetID == "" {
		return invalid("%s without targetId", m.Type)
	}
	if !ValidDocumentID(m.DocumentID) {
		return invalid("%s with invalid documentId %.80q", m.Type, m.DocumentID)
	}
	return nil
}

func (p *PeerMetadata) validate() error {
	if len(p.StorageID) > maxIDLen {
		return invalid("storageId too long")
	}
	if p.Outpost == nil {
		return nil
	}
	if len(p.Outpost.Collections) > maxCollections {
		return invalid("too many collections")
	}
	for _, c := range p.Outpost.Collections {
		if err := validCollection(c); err != nil {
			return err
		}
	}
	if len(p.Outpost.Name) > maxIDLen {
		return invalid("name too long")
	}
	return nil
}

func validCollection(c string) error {
	if c == "" {
		return invalid("empty collection")
	}
	if len(c) > maxCollectionLen {
		return invalid("collection too long")
	}
	if !utf8.ValidString(c) || strings.ContainsRune(c, 0) {
		return invalid("collection is not text")
	}
	return nil
}

// OutpostExt returns the Outpost extension the metadata announces, or nil if
// the peer is a plain automerge-repo peer (or p is nil).
func (p *PeerMetadata) OutpostExt() *OutpostMeta {
	if p == nil || p.Outpost == nil || p.Outpost.Version < 1 {
		return nil
	}
	return p.Outpost
}

// String renders a Message briefly for logs and scenario output.
func (m *Message) String() string {
	s := m.Type
	if m.SenderID != "" || m.TargetID != "" {
		s += fmt.Sprintf(" %s->%s", m.SenderID, m.TargetID)
	}
	if m.DocumentID != "" {
		s += " doc=" + m.DocumentID
	}
	if len(m.Data) > 0 {
		s += fmt.Sprintf(" data=%dB", len(m.Data))
	}
	if m.Collection != "" {
		s += fmt.Sprintf(" collection=%s seq=%d", m.Collection, m.Seq)
	}
	return s
}
