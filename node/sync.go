package node

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"

	"github.com/automerge/automerge-go"
	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt/wire"
	"github.com/outposthq/outpost/discovery"
	"github.com/outposthq/outpost/synclink"
)

// SyncConfig says what a node syncs and with whom.
type SyncConfig struct {
	// Collections this node holds and syncs; empty holds every collection
	// its peers grant it.
	Collections []string
	// Servers are sync servers (hubs) to dial; Peers are other nodes.
	Servers []Remote
	Peers   []Remote
	// CAFile pins the fleet's CA for wss:// remotes.
	CAFile string
	// Discover, if set, advertises this node's /sync endpoint on the LAN
	// with mDNS/DNS-SD and dials the Outpost nodes it finds there.
	Discover *Discover
}

// Discover configures LAN discovery (see package discovery).
type Discover struct {
	// Token is presented to discovered nodes (a token made on them, or
	// one valid on every node of the fleet).
	Token string
	// Group overrides mDNS's 224.0.0.251:5353 (tests use another port).
	Group netip.AddrPort
}

// Remote is a sync endpoint to dial, e.g. ws://hub:7430/sync.
type Remote struct {
	URL   string
	Token string
}

// newSyncer builds the node's sync loop over its store. Peers that connect
// to the node's /sync endpoint need a token (see outpost token); their bytes
// are vetted in a worker process before Automerge sees them.
func (n *Node) newSyncer() (*synclink.Syncer, error) {
	sid, err := synclink.StorageID(n.store.DB())
	if err != nil {
		return nil, err
	}
	return synclink.New(synclink.NewPebbleStore(n.store), synclink.Options{
		StorageID:   sid,
		Name:        n.cfg.Name,
		Collections: n.cfg.Sync.Collections,
		Tokens:      n.tokens,
		Verify: func(id string, base *automerge.Doc, chunks []byte) error {
			key, err := wire.DecodeDocumentID(id)
			if err != nil {
				return err
			}
			return n.verifier.Chunks(context.Background(), key, base, chunks)
		},
		Dial:   synclink.DialOptions{CAFile: n.cfg.Sync.CAFile},
		Logger: n.log.With("component", "sync"),
	})
}

func (n *Node) syncRoutes(e *echo.Echo, api *echo.Group) {
	e.Any("/sync", echo.WrapHandler(http.HandlerFunc(n.syncer.Serve)))
	api.GET("/sync", n.syncStatus)
}

func (n *Node) syncStatus(c echo.Context) error {
	peers := n.syncer.Status()
	if peers == nil {
		peers = []synclink.PeerStatus{}
	}
	return c.JSON(http.StatusOK, map[string]any{
		"peer_id":     n.syncer.PeerID(),
		"collections": n.cfg.Sync.Collections,
		"peers":       peers,
	})
}

// Tokens is the node's access token store (for peers dialing its /sync).
func (n *Node) Tokens() *access.Store { return n.tokens }

// startDiscovery advertises the node and dials the nodes it finds until
// ctx ends. Setup (which reads the store) is done before it returns; the
// goroutine it leaves touches only the socket and the syncer. Of two nodes that find each other only the one with the lower
// storage id dials, so they hold one connection, not two that keep
// replacing each other. Discovery failing (no multicast interface) is
// logged, not fatal: configured servers and peers still work.
func (n *Node) startDiscovery(ctx context.Context) {
	dc := n.cfg.Sync.Discover
	if dc == nil {
		return
	}
	log := n.log.With("component", "discovery")
	self, err := synclink.StorageID(n.store.DB())
	if err != nil {
		log.Warn("discovery off", "err", err)
		return
	}
	adv := discovery.Advert{ID: self, Name: n.cfg.Name, Scheme: "ws", Path: "/sync"}
	if n.cfg.TLSCert != "" {
		adv.Scheme = "wss"
	}
	tcp, ok := n.ln.Addr().(*net.TCPAddr)
	if !ok {
		return
	}
	adv.Port = uint16(tcp.Port)
	var addrs []netip.Addr
	if ip, ok := netip.AddrFromSlice(tcp.IP); ok && !ip.Unmap().IsUnspecified() {
		// Listening on one address: advertise that one only.
		addrs = []netip.Addr{ip.Unmap()}
		if ip.Unmap().IsLoopback() {
			log.Warn("listening on a loopback address: only nodes on this host can reach this node (use --listen 0.0.0.0:PORT)")
		}
	}
	configured := map[string]bool{}
	for _, r := range append(slices.Clone(n.cfg.Sync.Peers), n.cfg.Sync.Servers...) {
		configured[r.URL] = true
	}
	dialing := map[string]string{} // discovered id -> URL we dial
	found := func(in discovery.Instance) {
		url := in.URL()
		if in.TTL == 0 || !discovery.ShouldDial(self, in.ID) || configured[url] {
			// A node that said goodbye keeps its dialer, which backs off
			// and reconnects if it comes back at the same address.
			return
		}
		if old, ok := dialing[in.ID]; ok {
			if old == url {
				return
			}
			n.syncer.RemovePeer(old)
		}
		dialing[in.ID] = url
		log.Info("sync: dialing a discovered node", "name", in.Name, "url", url)
		n.syncer.AddPeer(url, dc.Token)
	}
	d, err := discovery.Listen(discovery.Config{Advert: adv, Addrs: addrs, Group: dc.Group, Found: found, Logger: log})
	if err != nil {
		log.Warn("discovery off", "err", err)
		return
	}
	log.Info("discovery on", "service", discovery.ServiceName, "id", self)
	go func() {
		if err := d.Run(ctx); err != nil {
			log.Warn("discovery stopped", "err", err)
		}
	}()
}
