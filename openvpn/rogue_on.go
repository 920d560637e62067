//go:build rogueprovider

package openvpn

import (
	"encoding/json"
	"os"
)

// rogueServerLines are the "openvpn" lines of the JSON file
// $MYST_ROGUE_FILE, added to every server's config at its start: a test
// build only (tag rogueprovider), to prove that consumers refuse what a
// hostile provider pushes.
func rogueServerLines() []string {
	raw, err := os.ReadFile(os.Getenv("MYST_ROGUE_FILE"))
	if err != nil {
		return nil
	}
	var f struct {
		OpenVPN []string `json:"openvpn"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return nil
	}
	return f.OpenVPN
}

// rogueClientConfig are the "openvpn_client" lines of $MYST_ROGUE_FILE,
// read at each client's approval: a client-specific config (such as
// ifconfig-push) of a test build only.
func rogueClientConfig() []string {
	raw, err := os.ReadFile(os.Getenv("MYST_ROGUE_FILE"))
	if err != nil {
		return nil
	}
	var f struct {
		Client []string `json:"openvpn_client"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return nil
	}
	return f.Client
}
