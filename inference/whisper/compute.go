package whisper

import (
	"context"
	"fmt"

	"github.com/ollama/ollama/ml"
)

// Gate orders the graph computations of concurrent transcriptions: it
// blocks until the caller may compute (or ctx ends) and returns the function
// that ends its turn. Each graph (one window's encoder, one decoding step)
// is a turn, so a scheduler can let a short clip pass a long one between
// two steps. A nil Gate computes as soon as the model is free.
type Gate func(ctx context.Context) (release func(), err error)

// compute runs the graph of g up to outs, then read (which may read outs)
// while the backend is still reserved.
func (m *Model) compute(ctx context.Context, gate Gate, g ml.Context, outs []ml.Tensor, read func()) (err error) {
	if gate != nil {
		release, err := gate(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.computeMu.Lock()
	defer m.computeMu.Unlock()
	defer func() {
		// ollama's backend panics when ggml reports a failed computation.
		if r := recover(); r != nil {
			err = fmt.Errorf("whisper: ggml compute: %v", r)
		}
	}()
	g.Forward(outs...).Compute(outs...)
	read()
	return nil
}
