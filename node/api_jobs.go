package node

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/node/jobs"
)

func (n *Node) jobRoutes(g *echo.Group) {
	g.POST("/jobs", n.submitJob)
	g.GET("/jobs", n.listJobs)
	g.GET("/jobs/:id", n.getJob)
	g.DELETE("/jobs/:id", n.cancelJob)
}

// jobError maps queue errors to API errors.
func jobError(err error) error {
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		return &apiError{http.StatusNotFound, err.Error()}
	case errors.Is(err, jobs.ErrUnknownKind), errors.Is(err, jobs.ErrInvalid):
		return badRequest("%v", err)
	case errors.Is(err, jobs.ErrFinished):
		return &apiError{http.StatusConflict, err.Error()}
	}
	return err
}

func (n *Node) submitJob(c echo.Context) error {
	body, err := readBody(c, n.cfg.MaxDocBytes)
	if err != nil {
		return err
	}
	var req struct {
		Kind     string          `json:"kind"`
		Input    json.RawMessage `json:"input"`
		Model    string          `json:"model"`
		Template string          `json:"template"`
		Priority int             `json:"priority"`
	}
	dec := json.NewDecoder(bytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return badRequest("invalid job: %v", err)
	}
	if req.Kind == "" {
		return badRequest(`"kind" is required`)
	}
	if len(req.Input) > 0 && req.Input[0] != '{' {
		return badRequest(`"input" must be a JSON object`)
	}
	j, err := n.jobs.Submit(c.Request().Context(), jobs.Job{
		Kind: req.Kind, Input: req.Input, Model: req.Model, Template: req.Template, Priority: req.Priority,
	})
	if err != nil {
		return jobError(err)
	}
	return c.JSON(http.StatusAccepted, j)
}

func (n *Node) getJob(c echo.Context) error {
	j, err := n.jobs.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return jobError(err)
	}
	return c.JSON(http.StatusOK, j)
}

func (n *Node) listJobs(c echo.Context) error {
	state := jobs.State(c.QueryParam("state"))
	switch state {
	case "", jobs.Queued, jobs.Running, jobs.Done, jobs.Failed, jobs.Cancelled:
	default:
		return badRequest("state must be queued, running, done, failed or cancelled")
	}
	limit := 100
	if s := c.QueryParam("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l < 1 || l > 1000 {
			return badRequest("limit must be an integer from 1 to 1000")
		}
		limit = l
	}
	js, err := n.jobs.List(c.Request().Context(), state, limit)
	if err != nil {
		return err
	}
	if js == nil {
		js = []jobs.Job{}
	}
	return c.JSON(http.StatusOK, map[string]any{"jobs": js})
}

func (n *Node) cancelJob(c echo.Context) error {
	j, err := n.jobs.Cancel(c.Request().Context(), c.Param("id"))
	if err != nil {
		return jobError(err)
	}
	return c.JSON(http.StatusOK, j)
}
