//go:build !rogueprovider

package openvpn

// rogueServerLines is empty: only a test build (tag rogueprovider) plays
// a provider that pushes hostile options.
func rogueServerLines() []string { return nil }

// rogueClientConfig is empty: see rogueServerLines.
func rogueClientConfig() []string { return nil }
