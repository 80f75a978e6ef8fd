package synclink

import (
	"slices"
	"time"
)

// PeerStatus is one peer as status pages show it.
type PeerStatus struct {
	// PeerID is the remote automerge-repo peer id (empty while not
	// connected).
	PeerID string `json:"peer_id,omitempty"`
	// URL is what we dial, or the remote address of an accepted peer.
	URL      string `json:"url"`
	Outbound bool   `json:"outbound"`
	Name     string `json:"name,omitempty"`
	Outpost  bool   `json:"outpost"`
	// State is connecting, connected or backoff.
	State     string    `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
	Connected time.Time `json:"connected_at,omitzero"`
	// LastSync is when the last message from the peer arrived.
	LastSync time.Time `json:"last_sync,omitzero"`
	// Docs synced in this connection, and of them (plus documents still to
	// offer) those not yet in sync.
	Docs     int   `json:"docs"`
	Pending  int   `json:"pending"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	MsgsIn   int64 `json:"messages_in"`
	MsgsOut  int64 `json:"messages_out"`
}

// Status reports every dialed peer (connected or not) and every accepted
// connection, dialed first, then by URL.
func (s *Syncer) Status() []PeerStatus {
	s.mu.Lock()
	dialers := slices.Clone(s.mu.dialers)
	conns := slices.Clone(s.mu.conns)
	st := s.mu.status
	s.mu.Unlock()
	live := map[string]PeerStatus{}
	for _, c := range conns {
		p := PeerStatus{
			PeerID: c.info.ID, URL: c.url, Outbound: c.outbound, State: "connected",
			Outpost:   c.info.Metadata.OutpostExt() != nil,
			Connected: c.connected,
			BytesIn:   c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
			MsgsIn: c.msgsIn.Load(), MsgsOut: c.msgsOut.Load(),
		}
		if ns := c.lastIn.Load(); ns > 0 {
			p.LastSync = time.Unix(0, ns)
		}
		if es, ok := st[c.info.ID]; ok {
			p.Name, p.Docs, p.Pending = es.Name, es.Docs, es.Pending
		}
		if c.outbound {
			live[c.url] = p
		} else {
			live["in:"+c.info.ID] = p
		}
	}
	var out []PeerStatus
	for _, d := range dialers {
		if p, ok := live[d.url]; ok {
			out = append(out, p)
			delete(live, d.url)
			continue
		}
		d.mu.Lock()
		out = append(out, PeerStatus{URL: d.url, Outbound: true, State: d.state, LastError: d.lastErr, RetryAt: d.retryAt})
		d.mu.Unlock()
	}
	var in []PeerStatus
	for _, p := range live {
		in = append(in, p)
	}
	slices.SortFunc(in, func(a, b PeerStatus) int {
		if a.URL != b.URL {
			if a.URL < b.URL {
				return -1
			}
			return 1
		}
		if a.PeerID < b.PeerID {
			return -1
		}
		return 1
	})
	return append(out, in...)
}
