// Package web is the node's dashboard: pages and static assets embedded in
// the binary. It reaches the node's data only through the node's HTTP API,
// from the browser.
package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

//go:embed static
var static embed.FS

// Mount serves the dashboard at / on e.
func Mount(e *echo.Echo) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	h := http.FileServer(http.FS(sub))
	e.GET("/", echo.WrapHandler(h))
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", h)))
}
