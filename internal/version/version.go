// Package version holds the build's version, stamped by the Makefile with -ldflags.
package version

// Version is the collection version (galaxy.yml); Commit the source commit. The Makefile sets both.
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
)

// UserAgent names kbv3 to the Hetzner API, as the official clients name themselves.
func UserAgent() string { return "kbv3-keybuzz.infra/" + Version }
