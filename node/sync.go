package node

import (
	"context"
	"net/http"

	"github.com/automerge/automerge-go"
	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/access"
	"github.com/outposthq/outpost/crdt/wire"
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
