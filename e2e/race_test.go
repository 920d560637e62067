//go:build race

package e2e

// Under -race the binary the tests run is built with the race detector too.
func init() { buildFlags = append(buildFlags, "-race") }
