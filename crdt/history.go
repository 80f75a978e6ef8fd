package crdt

import (
	"context"
	"time"

	"github.com/automerge/automerge-go"
)

// Change describes one Automerge change of a document's history.
type Change struct {
	Hash    string    `json:"hash"`
	Actor   string    `json:"actor"`
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
	Deps    []string  `json:"deps"`
}

// History lists every change of the document in causal order.
func (s *Store) History(ctx context.Context, id DocID) ([]Change, error) {
	var out []Change
	err := s.View(ctx, id, func(doc *automerge.Doc, _ Meta) error {
		changes, err := doc.Changes()
		if err != nil {
			return err
		}
		out = make([]Change, len(changes))
		for i, c := range changes {
			deps := c.Dependencies()
			ds := make([]string, len(deps))
			for j, d := range deps {
				ds[j] = d.String()
			}
			out[i] = Change{
				Hash: c.Hash().String(), Actor: c.ActorID(), Seq: c.ActorSeq(),
				Time: c.Timestamp().UTC(), Message: c.Message(), Deps: ds,
			}
		}
		return nil
	})
	return out, err
}
