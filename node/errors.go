package node

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/outposthq/outpost/crdt"
)

// apiError is an error with the HTTP status it should be answered with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// httpError answers every error as {"error": "..."} with a fitting status.
func (n *Node) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, err.Error()
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.status, ae.msg
	case errors.As(err, &he):
		status = he.Code
		msg = fmt.Sprint(he.Message)
		if he.Code == http.StatusRequestEntityTooLarge {
			msg = "request body too large"
		}
	case errors.Is(err, crdt.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, crdt.ErrBadContent), errors.Is(err, crdt.ErrInvalid), errors.Is(err, crdt.ErrBadID):
		status = http.StatusBadRequest
	case errors.Is(err, crdt.ErrExists):
		status = http.StatusConflict
	case errors.Is(err, crdt.ErrCorrupt), errors.Is(err, crdt.ErrMissingDeps):
		status = http.StatusUnprocessableEntity
	}
	if status >= 500 {
		n.log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.JSON(status, map[string]string{"error": msg})
}
