//go:build !rogueprovider

package wireguard

// rogueConfig is the identity: only a test build (tag rogueprovider)
// plays a provider that sends hostile configs.
func rogueConfig(pc ProviderConfig) ProviderConfig { return pc }
