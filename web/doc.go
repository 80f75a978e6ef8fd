// Package web is the node's dashboard: a small page, its scripts and its
// styles, embedded in the binary with go:embed and served at / by Mount.
//
// It owns: the dashboard's HTML, CSS and JavaScript (plain ES modules, no
// build step and no CDN, so that it works on a ship or in a clinic with no
// internet link), and the headers they are served with.
//
// It must not: reach into the store or the job queue. The page reads and
// writes everything through the node's JSON API from the browser, so that
// the dashboard can never do what an API client cannot, and the API stays
// the one place that validates input.
//
// Caller's duties:
//  1. Call Mount once on the node's echo instance, after the API routes
//     (Mount claims only / and /static/*).
//  2. Serve the API on the same origin: the page calls /api/v1/... relative
//     to where it was loaded, and its Content-Security-Policy allows no
//     other origin.
package web
