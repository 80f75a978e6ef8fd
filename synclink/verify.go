package synclink

import (
	"context"

	"github.com/automerge/automerge-go"

	"github.com/outposthq/outpost/crdt/verify"
	"github.com/outposthq/outpost/crdt/wire"
)

// VerifyWith adapts a crdt/verify Verifier to Options.Verify.
func VerifyWith(v *verify.Verifier) func(id string, base *automerge.Doc, chunks []byte) error {
	return func(id string, base *automerge.Doc, chunks []byte) error {
		key, err := wire.DecodeDocumentID(id)
		if err != nil {
			return err
		}
		return v.Chunks(context.Background(), key, base, chunks)
	}
}
