package web

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"
)

//go:embed static
var static embed.FS

// csp allows the page its own origin only: document content comes from
// other devices and is rendered as text, and this is the second line of
// defence should a script ever render it as HTML.
const csp = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Mount serves the dashboard at / on e.
func Mount(e *echo.Echo) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	h := headers(http.FileServer(http.FS(sub)))
	e.GET("/", echo.WrapHandler(h))
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", h)))
}

func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		// Embedded files carry no modification time, so nothing could
		// revalidate a cached copy: always fetch, so that a node upgrade
		// never runs new API against an old page.
		hd.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
