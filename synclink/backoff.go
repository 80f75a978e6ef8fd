package synclink

import (
	"math/rand/v2"
	"time"
)

// backoff yields reconnect delays: exponential from min, capped at max,
// with full jitter so that a fleet reconnecting after a server restart does
// not arrive all at once.
type backoff struct {
	min, max time.Duration
	cur      time.Duration
	rnd      func() float64
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rnd: rand.Float64}
}

// next returns the delay before the next attempt.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur *= 2
		if b.cur > b.max {
			b.cur = b.max
		}
	}
	// Full jitter in [cur/2, cur]: never zero, so a flapping link is never
	// retried in a hot loop.
	return b.cur/2 + time.Duration(b.rnd()*float64(b.cur/2))
}

// reset is called once a connection completed its handshake.
func (b *backoff) reset() { b.cur = 0 }
