// Package network describes a myst network in one file, network.json: the
// chain and its contracts (and, on development networks, an account that
// pays gas), so that one flag points a node at a whole network.
package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/stun"
)

// FileName is the name localnet gives the file in its data dir.
const FileName = "network.json"

// Discoveries are the Discovery API's URLs: discovery_url, then
// discovery_urls.
func (f *File) Discoveries() []string {
	var out []string
	if f.DiscoveryURL != "" {
		out = append(out, f.DiscoveryURL)
	}
	for _, u := range f.DiscoveryURLs {
		if u != f.DiscoveryURL {
			out = append(out, u)
		}
	}
	return out
}

// RPCURLs are the chain's JSON-RPC endpoints, ether_rpc_url first.
func (f *File) RPCURLs() []string {
	out := []string{f.EtherRPCURL}
	for _, u := range f.EtherRPCURLs {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// ErrNoGasPayer means the network file names no account that pays gas.
var ErrNoGasPayer = errors.New("the network file names no gas payer")

// File is the content of network.json.
type File struct {
	ChainID     uint64 `json:"chain_id"`
	EtherRPCURL string `json:"ether_rpc_url"`
	// EtherRPCURLs are more endpoints of the chain, tried in turn when
	// one fails or rate-limits (http(s) only).
	EtherRPCURLs      []string       `json:"ether_rpc_urls,omitempty"`
	RegistryAddress   common.Address `json:"registry_address"`
	RegistryFromBlock uint64         `json:"registry_from_block"`
	// BrokerURLs are NATS servers (nats://host:port); a node uses any of them.
	BrokerURLs []string `json:"broker_urls,omitempty"`
	// DiscoveryURL is the Discovery API (http://host:port); DiscoveryURLs
	// lists more replicas of it (on one database), tried in turn when one
	// does not answer.
	DiscoveryURL  string   `json:"discovery_url,omitempty"`
	DiscoveryURLs []string `json:"discovery_urls,omitempty"`
	// STUNURLs are STUN servers (stun:host:port) that tell a node its
	// public address and NAT; two destinations (two servers, or two ports
	// of one) tell a cone NAT from a symmetric one.
	STUNURLs []string `json:"stun_urls,omitempty"`
	// TURNURLs are the network's relays (turn:host:port), for pairs with
	// no direct path; their credentials are issued to registered
	// identities.
	TURNURLs []string `json:"turn_urls,omitempty"`
	// TokenAddress and PaymentsAddress are the payment contracts.
	TokenAddress    *common.Address `json:"token_address,omitempty"`
	PaymentsAddress *common.Address `json:"payments_address,omitempty"`

	// A funded account that pays gas for others, on development networks.
	// Paths are relative to the network file's folder unless absolute.
	GasPayerAddress        *common.Address `json:"gas_payer_address,omitempty"`
	GasPayerKeystore       string          `json:"gas_payer_keystore,omitempty"`
	GasPayerPassphraseFile string          `json:"gas_payer_passphrase_file,omitempty"`

	dir string // folder of the file it was loaded from
}

// Load reads and checks a network file.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read network file: %w", err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("network file %s is not valid JSON: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("network file %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("network file %s: %w", path, err)
	}
	f.dir = filepath.Dir(abs)
	return &f, nil
}

// Validate checks every field a node needs.
func (f *File) Validate() error {
	if f.ChainID == 0 {
		return errors.New("chain_id is missing or 0")
	}
	u, err := url.Parse(f.EtherRPCURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		return fmt.Errorf("ether_rpc_url %q: want an http(s):// or ws(s):// URL", f.EtherRPCURL)
	}
	for _, r := range f.EtherRPCURLs {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("ether_rpc_urls: %q is not an http(s):// URL", r)
		}
	}
	if f.RegistryAddress == (common.Address{}) {
		return errors.New("registry_address is missing")
	}
	for _, b := range f.BrokerURLs {
		u, err := url.Parse(b)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			return fmt.Errorf("broker_urls: %q is not a nats://host:port URL", b)
		}
	}
	for _, d := range f.Discoveries() {
		u, err := url.Parse(d)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("discovery_url(s) %q: want an http(s):// URL", d)
		}
	}
	for _, u := range f.STUNURLs {
		if _, err := stun.ParseURL(u); err != nil {
			return fmt.Errorf("stun_urls: %w", err)
		}
	}
	for _, u := range f.TURNURLs {
		if _, err := stun.ParseTURNURL(u); err != nil {
			return fmt.Errorf("turn_urls: %w", err)
		}
	}
	if (f.TokenAddress == nil) != (f.PaymentsAddress == nil) {
		return errors.New("token_address and payments_address go together")
	}
	if (f.GasPayerKeystore == "") != (f.GasPayerAddress == nil) {
		return errors.New("gas_payer_address and gas_payer_keystore go together")
	}
	return nil
}

// Save writes the file atomically.
func (f *File) Save(path string) error {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(raw, '\n'), 0o644)
}

// HasGasPayer reports whether the network names a gas payer.
func (f *File) HasGasPayer() bool { return f.GasPayerKeystore != "" }

// GasPayer decrypts the gas payer's key.
func (f *File) GasPayer() (*identity.Signer, error) {
	if !f.HasGasPayer() {
		return nil, ErrNoGasPayer
	}
	blob, err := os.ReadFile(f.path(f.GasPayerKeystore))
	if err != nil {
		return nil, fmt.Errorf("gas payer keystore: %w", err)
	}
	var pass []byte
	if f.GasPayerPassphraseFile != "" {
		if pass, err = os.ReadFile(f.path(f.GasPayerPassphraseFile)); err != nil {
			return nil, fmt.Errorf("gas payer passphrase: %w", err)
		}
	}
	key, err := keystore.DecryptKey(blob, string(pass))
	if err != nil {
		return nil, fmt.Errorf("gas payer keystore: %w", err)
	}
	if key.Address != *f.GasPayerAddress {
		return nil, fmt.Errorf("gas payer keystore holds %s, not gas_payer_address %s", key.Address.Hex(), f.GasPayerAddress.Hex())
	}
	return identity.NewSigner(key.PrivateKey), nil
}

func (f *File) path(p string) string {
	if filepath.IsAbs(p) || f.dir == "" {
		return p
	}
	return filepath.Join(f.dir, p)
}

// HasPayments reports whether the network has payment contracts.
func (f *File) HasPayments() bool { return f.PaymentsAddress != nil }
