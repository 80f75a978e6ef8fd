package synctest

import (
	"encoding/hex"
	"fmt"

	"github.com/outposthq/outpost/crdt/wire"
)

// send from=A to=B type=T [doc=D] [data=hex|garbage] [collection=C] [count=N]
//
// Puts a hand-made message on the link from A to B, bypassing A's engine:
// what a misbehaving or hostile peer could send. Deliver it with deliver.
func (env *Env) cmdSend(c *Cmd) (string, error) {
	a, err := env.node(c.Arg("from", ""))
	if err != nil {
		return "", err
	}
	b, err := env.node(c.Arg("to", ""))
	if err != nil {
		return "", err
	}
	l := env.links[[2]string{a.Name, b.Name}]
	if l == nil {
		return "", fmt.Errorf("%s and %s are not connected", a.Name, b.Name)
	}
	m := &wire.Message{Type: c.Arg("type", ""), SenderID: a.PeerID(), TargetID: b.PeerID(), Collection: c.Arg("collection", "")}
	if d := c.Arg("doc", ""); d != "" {
		m.DocumentID = env.DocID(d)
	}
	switch v := c.Arg("data", ""); v {
	case "":
	case "garbage":
		m.Data = []byte{0x42, 0x01, 0xff}
	default:
		if m.Data, err = hex.DecodeString(v); err != nil {
			return "", err
		}
	}
	if m.Type == wire.TypeEphemeral {
		m.SessionID = a.PeerID()
		n, err := intArg(c, "count", 1)
		if err != nil {
			return "", err
		}
		m.Count = uint64(n)
		if m.Data == nil {
			m.Data = []byte{0xa0} // an empty CBOR map
		}
	}
	frame, err := env.codec.Encode(m)
	if err != nil {
		return "", err
	}
	l.Frames = append(l.Frames, frame)
	return "", nil
}
