package synclink

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/coder/websocket"

	"github.com/outposthq/outpost/crdt/wire"
)

// The automerge-repo WebSocket handshake: the client sends join with its
// peer id, metadata and supported protocol versions; the server answers
// peer with its own and the selected version ("1"), or error and closes.

func (s *Syncer) readOne(ctx context.Context, ws *websocket.Conn) (*wire.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	typ, frame, err := ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, errors.New("text frame during handshake")
	}
	return s.codec.Decode(frame)
}

func (s *Syncer) writeOne(ctx context.Context, ws *websocket.Conn, m *wire.Message) error {
	frame, err := s.codec.Encode(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.HandshakeTimeout)
	defer cancel()
	return ws.Write(ctx, websocket.MessageBinary, frame)
}

// refuse sends an error message and closes a connection during handshake.
func (s *Syncer) refuse(ctx context.Context, ws *websocket.Conn, target string, reason string) {
	s.writeOne(ctx, ws, &wire.Message{Type: wire.TypeError, SenderID: s.peerID, TargetID: target, ErrorText: reason})
	ws.Close(websocket.StatusPolicyViolation, truncate(reason, 120))
}

// acceptHandshake runs the server side: read join, answer peer.
func (s *Syncer) acceptHandshake(ctx context.Context, ws *websocket.Conn) (*wire.Message, error) {
	m, err := s.readOne(ctx, ws)
	if err != nil {
		s.refuse(ctx, ws, "", "expected join: "+err.Error())
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if m.Type != wire.TypeJoin {
		s.refuse(ctx, ws, m.SenderID, "expected join, got "+m.Type)
		return nil, fmt.Errorf("handshake: expected join, got %q", m.Type)
	}
	// automerge-repo treats a join without versions as version 1.
	if len(m.SupportedProtocolVersions) > 0 && !slices.Contains(m.SupportedProtocolVersions, wire.ProtocolV1) {
		s.refuse(ctx, ws, m.SenderID, "unsupported protocol version")
		return nil, fmt.Errorf("handshake: unsupported protocol versions %q", m.SupportedProtocolVersions)
	}
	if m.SenderID == s.peerID {
		s.refuse(ctx, ws, m.SenderID, "peer id collides with the server's")
		return nil, errors.New("handshake: peer id collision")
	}
	err = s.writeOne(ctx, ws, &wire.Message{
		Type:                    wire.TypePeer,
		SenderID:                s.peerID,
		TargetID:                m.SenderID,
		PeerMetadata:            s.metadata,
		SelectedProtocolVersion: wire.ProtocolV1,
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return m, nil
}

// dialHandshake runs the client side: send join, read peer.
func (s *Syncer) dialHandshake(ctx context.Context, ws *websocket.Conn) (*wire.Message, error) {
	err := s.writeOne(ctx, ws, &wire.Message{
		Type:                      wire.TypeJoin,
		SenderID:                  s.peerID,
		PeerMetadata:              s.metadata,
		SupportedProtocolVersions: []string{wire.ProtocolV1},
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	m, err := s.readOne(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	switch m.Type {
	case wire.TypePeer:
		if m.SelectedProtocolVersion != "" && m.SelectedProtocolVersion != wire.ProtocolV1 {
			return nil, fmt.Errorf("handshake: server selected protocol %q", m.SelectedProtocolVersion)
		}
		return m, nil
	case wire.TypeError:
		return nil, fmt.Errorf("handshake: refused: %s", m.ErrorText)
	}
	return nil, fmt.Errorf("handshake: expected peer, got %q", m.Type)
}
