package node

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/automerge/automerge-go"
	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/crdt"
)

func (n *Node) docRoutes(g *echo.Group) {
	g.POST("/docs", n.createDoc)
	g.GET("/docs", n.listDocs)
	g.GET("/docs/:id", n.getDoc)
	g.PATCH("/docs/:id", n.patchDoc)
	g.GET("/docs/:id/history", n.docHistory)
}

// docJSON is a document as the API shows it.
type docJSON struct {
	ID         string         `json:"id"`
	URL        string         `json:"url"`
	Type       string         `json:"type"`
	Collection string         `json:"collection"`
	Heads      []string       `json:"heads"`
	Content    map[string]any `json:"content,omitempty"`
	Excerpt    string         `json:"excerpt,omitempty"` // lists with ?excerpt=true
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
}

func docView(m crdt.Meta, content map[string]any) docJSON {
	heads := headStrings(m.Heads)
	return docJSON{
		ID: m.ID.String(), URL: m.ID.URL(), Type: m.Type, Collection: m.Collection,
		Heads: heads, Content: content, CreatedAt: m.Created, UpdatedAt: m.Updated,
	}
}

// readBody reads a request body of at most limit bytes; past it, 413.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	if err != nil {
		return nil, badRequest("reading request body: %v", err)
	}
	return b, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func parseID(c echo.Context) (crdt.DocID, error) {
	id, err := crdt.ParseDocID(c.Param("id"))
	if err != nil {
		return id, badRequest("invalid document id %q", c.Param("id"))
	}
	return id, nil
}

func (n *Node) createDoc(c echo.Context) error {
	body, err := readBody(c, n.cfg.MaxDocBytes)
	if err != nil {
		return err
	}
	obj, err := crdt.DecodeJSON(body)
	if err != nil {
		return badRequest("%v", err)
	}
	typ, _ := obj["type"].(string)
	coll, _ := obj["collection"].(string)
	if typ == "" || coll == "" {
		return badRequest(`"type" and "collection" are required strings`)
	}
	content := map[string]any{}
	if raw, ok := obj["content"]; ok && raw != nil {
		if content, ok = raw.(map[string]any); !ok {
			return badRequest(`"content" must be a JSON object`)
		}
	}
	m, err := n.store.Create(c.Request().Context(), typ, coll, func(d *automerge.Doc) error {
		return crdt.SetContent(d, content)
	})
	if err != nil {
		return err
	}
	return n.respondDoc(c, http.StatusCreated, m.ID)
}

// respondDoc answers with the document's current metadata and content.
func (n *Node) respondDoc(c echo.Context, status int, id crdt.DocID) error {
	var out docJSON
	err := n.store.View(c.Request().Context(), id, func(d *automerge.Doc, m crdt.Meta) error {
		content, err := crdt.Content(d)
		out = docView(m, content)
		return err
	})
	if err != nil {
		return err
	}
	if out.Content == nil {
		out.Content = map[string]any{}
	}
	c.Response().Header().Set("ETag", etag(out.Heads))
	return c.JSON(status, out)
}

func headStrings(hs []automerge.ChangeHash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// etag names a document version by its heads, so that a client can PATCH
// with If-Match and be refused (412) if someone else's change landed since
// it read the document, instead of merging an edit made against old text.
func etag(heads []string) string {
	hs := slices.Clone(heads)
	slices.Sort(hs)
	return `"` + strings.Join(hs, ".") + `"`
}

func (n *Node) getDoc(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	return n.respondDoc(c, http.StatusOK, id)
}

func (n *Node) patchDoc(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/merge-patch+json" && mt != "application/json") {
			return &apiError{http.StatusUnsupportedMediaType, "PATCH takes application/merge-patch+json (RFC 7386)"}
		}
	}
	body, err := readBody(c, n.cfg.MaxDocBytes)
	if err != nil {
		return err
	}
	patch, err := crdt.DecodeJSON(body)
	if err != nil {
		return badRequest("%v", err)
	}
	msg := c.Request().Header.Get("X-Change-Message")
	ifMatch := c.Request().Header.Get("If-Match")
	if _, err := n.store.Update(c.Request().Context(), id, msg, func(d *automerge.Doc) error {
		if ifMatch != "" && ifMatch != "*" {
			if etag(headStrings(d.Heads())) != ifMatch {
				return &apiError{http.StatusPreconditionFailed, "the document changed since that version (If-Match); read it again"}
			}
		}
		return crdt.ApplyMergePatch(d, patch)
	}); err != nil {
		return err
	}
	return n.respondDoc(c, http.StatusOK, id)
}

func (n *Node) listDocs(c echo.Context) error {
	q := crdt.Query{
		Type:       c.QueryParam("type"),
		Collection: c.QueryParam("collection"),
		Cursor:     c.QueryParam("cursor"),
	}
	if s := c.QueryParam("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l < 1 || l > 1000 {
			return badRequest("limit must be an integer from 1 to 1000")
		}
		q.Limit = l
	}
	metas, next, err := n.store.List(c.Request().Context(), q)
	if err != nil {
		return err
	}
	withExcerpt := c.QueryParam("excerpt") == "true" || c.QueryParam("excerpt") == "1"
	docs := make([]docJSON, len(metas))
	for i, m := range metas {
		docs[i] = docView(m, nil)
		if withExcerpt {
			// A document that cannot be read here lists without one.
			n.store.View(c.Request().Context(), m.ID, func(d *automerge.Doc, _ crdt.Meta) error {
				docs[i].Excerpt = excerpt(d)
				return nil
			})
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"docs": docs, "next": next})
}

func (n *Node) docHistory(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	changes, err := n.store.History(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"changes": changes})
}

// excerptFields are the fields people recognise a document by, in the order
// they are tried; any other text field comes after them.
var excerptFields = []string{"title", "subject", "chief_complaint", "summary", "text", "body", "subjective", "assessment"}

// excerpt is the start of a document's most telling top-level text, one
// line, at most 120 characters, so that a list can show what a document is.
// It reads those fields alone, not the whole document (a long transcript's
// segments stay where they are).
func excerpt(d *automerge.Doc) string {
	root := d.RootMap()
	text := func(k string) string {
		v, err := root.Get(k)
		if err != nil {
			return ""
		}
		switch v.Kind() {
		case automerge.KindStr:
			return v.Str()
		case automerge.KindText:
			s, _ := v.Text().Get()
			return s
		}
		return ""
	}
	pick := ""
	for _, k := range excerptFields {
		if pick = text(k); strings.TrimSpace(pick) != "" {
			break
		}
	}
	if strings.TrimSpace(pick) == "" {
		keys, _ := root.Keys()
		slices.Sort(keys)
		for _, k := range keys {
			if pick = text(k); strings.TrimSpace(pick) != "" {
				break
			}
		}
	}
	line := strings.Join(strings.Fields(pick), " ")
	if r := []rune(line); len(r) > 120 {
		line = strings.TrimRight(string(r[:119]), " ") + "…"
	}
	return line
}
