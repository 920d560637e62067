//go:build rogueprovider

package wireguard

import (
	"encoding/json"
	"os"
)

// rogueConfig overrides what the provider tells consumers with the
// "wireguard" object of the JSON file $MYST_ROGUE_FILE, read at every
// session: a test build only (tag rogueprovider), to prove that consumers
// refuse hostile configs.
func rogueConfig(pc ProviderConfig) ProviderConfig {
	raw, err := os.ReadFile(os.Getenv("MYST_ROGUE_FILE"))
	if err != nil {
		return pc
	}
	var f struct {
		WireGuard map[string]string `json:"wireguard"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return pc
	}
	for k, v := range f.WireGuard {
		switch k {
		case "address":
			pc.Address = v
		case "dns":
			pc.DNS = v
		case "endpoint":
			pc.Endpoint = v
		}
	}
	return pc
}
