// Package webui is the node's web UI: static HTML, CSS and JavaScript
// embedded in the binary and served by the daemon under /ui/. The page
// talks to the same local REST API as the CLI, signed in with a one-time
// code from `myst ui` (see package localapi). No build step: edit the
// files in static/ and rebuild the binary.
package webui

import "embed"

// Files holds static/.
//
//go:embed static
var Files embed.FS
