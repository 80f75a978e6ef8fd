package synclink

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/outposthq/outpost/crdt/sync"
	"github.com/outposthq/outpost/crdt/wire"
)

// Send-queue watermarks (frames): above high the engine stops offering the
// peer documents from cursor scans; below low it resumes.
const (
	queueHigh = 2048
	queueLow  = 256
)

// conn is one WebSocket connection after its handshake. Its reader
// goroutine feeds the loop; its writer goroutine drains a queue the loop
// fills without ever blocking.
type conn struct {
	ws       *websocket.Conn
	info     sync.PeerInfo
	outbound bool
	url      string
	s        *Syncer

	mu struct {
		gosync.Mutex
		queue   [][]byte
		closing string // close once the queue is written, with this reason
	}
	wake chan struct{} // the writer has work
	done chan struct{} // closed when the connection is finished
	once gosync.Once

	paused    bool // loop-owned: engine.Pause is on
	connected time.Time
	lastIn    atomic.Int64 // unix nanos of the last message received
	bytesIn   atomic.Int64
	bytesOut  atomic.Int64
	msgsIn    atomic.Int64
	msgsOut   atomic.Int64
	err       atomic.Value // string: why it ended
}

func newConn(s *Syncer, ws *websocket.Conn, info sync.PeerInfo, outbound bool, url string) *conn {
	c := &conn{ws: ws, info: info, outbound: outbound, url: url, s: s,
		wake: make(chan struct{}, 1), done: make(chan struct{}), connected: time.Now()}
	c.lastIn.Store(c.connected.UnixNano())
	return c
}

// enqueue adds a frame for the writer; it never blocks.
func (c *conn) enqueue(frame []byte) int {
	c.mu.Lock()
	c.mu.queue = append(c.mu.queue, frame)
	n := len(c.mu.queue)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return n
}

func (c *conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.queue)
}

// closeAfterFlush closes the connection once what is queued (typically an
// error message) has been written.
func (c *conn) closeAfterFlush(reason string) {
	c.mu.Lock()
	c.mu.closing = reason
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close ends the connection now.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.once.Do(func() {
		if reason != "" {
			c.err.Store(reason)
		}
		c.ws.Close(code, truncate(reason, 120))
		close(c.done)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// writeLoop writes queued frames until the connection ends.
func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			c.close(websocket.StatusGoingAway, "shutting down")
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			batch := c.mu.queue
			c.mu.queue = nil
			closing := c.mu.closing
			c.mu.Unlock()
			if len(batch) == 0 {
				if closing != "" {
					c.close(websocket.StatusPolicyViolation, closing)
					return
				}
				break
			}
			for _, f := range batch {
				wctx, cancel := context.WithTimeout(ctx, c.s.opts.WriteTimeout)
				err := c.ws.Write(wctx, websocket.MessageBinary, f)
				cancel()
				if err != nil {
					c.close(websocket.StatusInternalError, fmt.Sprintf("write: %v", err))
					return
				}
				c.bytesOut.Add(int64(len(f)))
				c.msgsOut.Add(1)
			}
			c.s.drained(c)
		}
	}
}

// readLoop decodes frames and hands them to the loop until the connection
// ends. A frame that does not decode is a protocol violation: the peer gets
// an error message and the connection is closed.
func (c *conn) readLoop(ctx context.Context) {
	defer func() {
		// ctx may be a dialer's, cancelled by RemovePeer: the loop must
		// still hear that the connection is gone.
		pctx := ctx
		if p := c.s.runCtx.Load(); p != nil {
			pctx = *p
		}
		c.s.post(pctx, event{kind: evDown, c: c})
	}()
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			c.close(websocket.StatusNormalClosure, readErr(err))
			return
		}
		c.bytesIn.Add(int64(len(frame)))
		c.msgsIn.Add(1)
		c.lastIn.Store(time.Now().UnixNano())
		if typ != websocket.MessageBinary {
			c.violation(ctx, errors.New("text frame; the protocol is binary CBOR"))
			return
		}
		m, err := c.s.codec.Decode(frame)
		if err != nil {
			c.violation(ctx, err)
			return
		}
		if !c.s.post(ctx, event{kind: evMsg, c: c, msg: m}) {
			return
		}
	}
}

func readErr(err error) string {
	if s := websocket.CloseStatus(err); s != -1 {
		return fmt.Sprintf("closed by peer (%d)", s)
	}
	return err.Error()
}

// violation answers a malformed frame with an error message and closes.
func (c *conn) violation(ctx context.Context, err error) {
	c.s.log.Warn("sync: protocol violation", "peer", c.info.ID, "url", c.url, "err", err)
	frame, encErr := c.s.codec.Encode(&wire.Message{Type: wire.TypeError, SenderID: c.s.peerID, TargetID: c.info.ID, ErrorText: err.Error()})
	if encErr == nil {
		c.enqueue(frame)
	}
	c.closeAfterFlush(err.Error())
	select {
	case <-c.done:
	case <-ctx.Done():
	case <-time.After(c.s.opts.WriteTimeout):
		c.close(websocket.StatusPolicyViolation, err.Error())
	}
}

// pingLoop keeps idle connections alive through NATs and notices dead
// peers, as automerge-repo's server does with its keepalive. It pings only
// a connection that has been silent for a whole interval: a pong is read
// by the peer's reader, which a busy peer may hold back (its loop applying
// thousands of documents), and a peer that is sending is plainly alive.
func (c *conn) pingLoop(ctx context.Context) {
	iv := c.s.opts.PingInterval
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, c.lastIn.Load())) < iv {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 2*iv)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil && time.Since(time.Unix(0, c.lastIn.Load())) > 2*iv {
				c.close(websocket.StatusGoingAway, "ping: "+err.Error())
				return
			}
		}
	}
}
