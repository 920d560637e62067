// Package localnet runs a whole myst network in one process for development
// and tests: a go-ethereum dev chain with the contracts deployed and a funded
// gas payer, an embedded NATS broker and the Discovery API, described by a
// network.json file. The chain is kept in the data dir, so a restart keeps
// identities, deposits and contracts (unless Fresh).
package localnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/google/uuid"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/brokerd"
	"github.com/mystnode/myst/deploy"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/discoveryd"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/stun"
)

// Config says where the network runs.
type Config struct {
	DataDir string // network.json and the gas payer's key go here
	RPCAddr string // host:port of the chain's JSON-RPC; port 0 picks one
	// BrokerAddr is host:port of the embedded NATS server; port 0 picks one.
	BrokerAddr string
	// DiscoveryAddr is host:port of the embedded Discovery API; port 0 picks one.
	DiscoveryAddr string
	// STUNAddr is host:port of the embedded STUN server, which also answers
	// on the next port (so nodes can tell cone from symmetric NAT); port 0
	// picks two free ones. Default 127.0.0.1:0.
	STUNAddr string
	// RelayURL, if set, is a relay run apart (myst-net relay, or coturn)
	// that the network uses instead of the embedded one, with the shared
	// secret in RelaySecretFile: the broker's admission service issues
	// credentials for it.
	RelayURL        string
	RelaySecretFile string
	// ChallengePeriod is how long a consumer waits between announcing a
	// withdrawal and withdrawing (default 60 s).
	ChallengePeriod time.Duration
	// Fresh starts a new chain (new contracts, no identities, deposits or
	// proposals) instead of continuing the one kept in DataDir.
	Fresh  bool
	Logger *slog.Logger
}

// Localnet is a running local network.
type Localnet struct {
	chain     *devchain.Chain
	broker    *brokerd.Server
	discovery *discoveryd.Service
	stun      *stun.Server
	relay     *relay.Server
	// relaySecret makes the relay's credentials.
	relaySecret []byte
	file        *network.File
	path        string
	// closers stop what Start started, registered in order; Close runs
	// them in reverse.
	closers []func() error
}

// onClose registers a closer for Close.
func (l *Localnet) onClose(f func() error) { l.closers = append(l.closers, f) }

// Start runs the chain, deploys the contracts and writes network.json.
func Start(ctx context.Context, cfg Config) (*Localnet, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	payer, keyFile, passFile, err := gasPayer(filepath.Join(cfg.DataDir, "localnet"))
	if err != nil {
		return nil, fmt.Errorf("gas payer: %w", err)
	}
	chainDir := filepath.Join(cfg.DataDir, "localnet", "chain")
	dbPath := filepath.Join(cfg.DataDir, "localnet", "discovery.db")
	if cfg.Fresh {
		if err := os.RemoveAll(chainDir); err != nil {
			return nil, fmt.Errorf("remove the old chain: %w", err)
		}
	}
	chain, err := devchain.Start(devchain.Config{RPCAddr: cfg.RPCAddr, Funded: []common.Address{payer.Address()}, Logger: logger, DataDir: chainDir})
	if err != nil {
		return nil, fmt.Errorf("devchain.Start: %w (start over with --fresh if %s holds a chain of another localnet)", err, chainDir)
	}
	ln := &Localnet{chain: chain, path: filepath.Join(cfg.DataDir, network.FileName)}
	ln.onClose(chain.Close)
	fail := func(err error) (*Localnet, error) {
		if cerr := ln.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stop what started: %w", cerr))
		}
		return nil, err
	}
	ec := chain.Client()
	defer ec.Close()
	var regAddr, tokenAddr, payAddr common.Address
	var regBlock uint64
	if prev := deployedBefore(ctx, ec, ln.path); prev != nil {
		regAddr, regBlock, tokenAddr, payAddr = prev.RegistryAddress, prev.RegistryFromBlock, *prev.TokenAddress, *prev.PaymentsAddress
		logger.Info("continuing the chain kept on disk", "dir", chainDir)
	} else {
		if cfg.ChallengePeriod <= 0 {
			cfg.ChallengePeriod = time.Minute
		}
		// A new chain: what an earlier one's deployment wrote down does
		// not apply to it.
		state := filepath.Join(cfg.DataDir, "localnet", "deploy.json")
		for _, p := range []string{state, filepath.Join(cfg.DataDir, "localnet", "deploy.journal")} {
			if err := os.RemoveAll(p); err != nil {
				return fail(err)
			}
		}
		supply := new(big.Int).Mul(big.NewInt(1_000_000_000), new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil))
		st, err := deploy.Run(ctx, deploy.Config{RPC: ec, Deployer: payer, TestSupply: supply, ChallengeSeconds: uint64(cfg.ChallengePeriod / time.Second), StatePath: state})
		if err != nil {
			return fail(fmt.Errorf("deploy the contracts: %w", err))
		}
		regAddr, regBlock = st.Step("IdentityRegistry").Address, st.Step("IdentityRegistry").Block
		tokenAddr, payAddr = st.Step("MystToken").Address, st.Step("Payments").Address
		// The chain is new: proposals of an earlier run name registrations
		// that do not exist on it.
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fail(err)
			}
		}
	}
	if cfg.BrokerAddr == "" {
		cfg.BrokerAddr = "127.0.0.1:0"
	}
	// The broker admits registered identities only; its registry checks
	// go through a cache of its own, like the discovery's.
	reg, err := registry.Dial(ctx, chain.RPCURL(), devchain.ChainID, regAddr)
	if err != nil {
		return fail(fmt.Errorf("registry for the broker: %w", err))
	}
	cache := registry.NewCache(reg, regBlock)
	cacheCtx, stopCache := context.WithCancel(context.Background())
	var cacheDone sync.WaitGroup
	cacheDone.Go(func() {
		cache.Run(cacheCtx, 2*time.Second, func(err error) { logger.Warn("broker registry cache", "err", err) })
	})
	ln.onClose(func() error { stopCache(); cacheDone.Wait(); reg.Close(); return nil })
	// The broker's admission service issues the relay's credentials.
	var secret []byte
	if cfg.RelayURL != "" && cfg.RelaySecretFile == "" {
		return fail(errors.New("a relay run apart (RelayURL) needs its shared secret (RelaySecretFile)"))
	}
	if cfg.RelaySecretFile != "" {
		secret, err = readSecret(cfg.RelaySecretFile)
	} else {
		secret, err = relaySecret(filepath.Join(cfg.DataDir, "localnet", "relay.secret"))
	}
	if err != nil {
		return fail(err)
	}
	issuer := &relay.Issuer{Secret: secret, Registered: cache.IsRegistered}
	ln.broker, err = brokerd.StartServer(brokerd.ServerConfig{Addr: cfg.BrokerAddr,
		Admission: &broker.AdmissionConfig{Registered: cache.IsRegistered, RelayCredentials: issuer.Answer, Logger: logger}})
	if err != nil {
		return fail(fmt.Errorf("broker: %w", err))
	}
	ln.onClose(func() error { ln.broker.Close(); return nil })
	if cfg.DiscoveryAddr == "" {
		cfg.DiscoveryAddr = "127.0.0.1:0"
	}
	ln.discovery, err = discoveryd.Start(ctx, discoveryd.ServiceConfig{
		Addr: cfg.DiscoveryAddr, DB: "sqlite:" + dbPath,
		EtherRPCURL: chain.RPCURL(), ChainID: devchain.ChainID, RegistryAddress: regAddr, RegistryFromBlock: regBlock,
		Server: discoveryd.Config{Logger: logger},
	})
	if err != nil {
		return fail(fmt.Errorf("discovery: %w", err))
	}
	ln.onClose(func() error { ln.discovery.Close(); return nil })
	if cfg.STUNAddr == "" {
		cfg.STUNAddr = "127.0.0.1:0"
	}
	// The relay answers STUN too, on the STUN address; a second STUN port
	// beside it tells cone NATs from symmetric ones.
	stunHost, stunPort, err := splitPort(cfg.STUNAddr)
	if err != nil {
		return fail(err)
	}
	ln.relaySecret = secret
	// A development network's nodes are on this host (loopback) or a lab
	// around it: the relay may send to the network it serves on.
	var allow []netip.Prefix
	if a, err := netip.ParseAddr(stunHost); err == nil && (a.IsLoopback() || a.IsPrivate()) {
		allow = []netip.Prefix{netip.PrefixFrom(a, 8).Masked()}
	}
	relayURL := cfg.RelayURL
	if relayURL == "" {
		if ln.relay, err = relay.Listen(relay.Config{Addr: cfg.STUNAddr, Secret: secret, AllowPeers: allow, Logger: logger}); err != nil {
			return fail(fmt.Errorf("relay: %w", err))
		}
		ln.onClose(ln.relay.Close)
		relayURL = ln.relay.URL(stunHost)
	} else if _, err := stun.ParseTURNURL(relayURL); err != nil {
		return fail(err)
	}
	second := 0
	if stunPort != 0 {
		second = stunPort + 1
	}
	if ln.stun, err = stun.Listen(logger, net.JoinHostPort(stunHost, strconv.Itoa(second))); err != nil {
		return fail(fmt.Errorf("STUN: %w", err))
	}
	ln.onClose(ln.stun.Close)
	payerAddr := payer.Address()
	ln.file = &network.File{
		ChainID:                devchain.ChainID,
		EtherRPCURL:            chain.RPCURL(),
		RegistryAddress:        regAddr,
		RegistryFromBlock:      regBlock,
		BrokerURLs:             []string{ln.broker.URL()},
		DiscoveryURL:           ln.discovery.URL(),
		STUNURLs:               append([]string{"stun:" + strings.TrimPrefix(relayURL, "turn:")}, ln.stun.URLs(stunHost)...),
		TURNURLs:               []string{relayURL},
		TokenAddress:           &tokenAddr,
		PaymentsAddress:        &payAddr,
		GasPayerAddress:        &payerAddr,
		GasPayerKeystore:       keyFile,
		GasPayerPassphraseFile: passFile,
	}
	if err := ln.file.Save(ln.path); err != nil {
		return fail(fmt.Errorf("write network file: %w", err))
	}
	logger.Info("localnet ready", "rpc", chain.RPCURL(), "broker", ln.broker.URL(), "discovery", ln.discovery.URL(), "stun", ln.file.STUNURLs, "registry", regAddr.Hex(), "gas_payer", payerAddr.Hex())
	return ln, nil
}

// Path is the network file's path.
func (l *Localnet) Path() string { return l.path }

// File is the network description.
func (l *Localnet) File() *network.File { return l.file }

// Close stops what Start started, in reverse (STUN, discovery, the
// broker, its registry cache, the chain), and returns every error. The
// network file stays, pointing at nothing.
func (l *Localnet) Close() error {
	var errs []error
	for i := len(l.closers) - 1; i >= 0; i-- {
		errs = append(errs, l.closers[i]())
	}
	l.closers = nil
	return errors.Join(errs...)
}

// splitPort reads host:port, port 0 to 65534 (the port after it is the
// second STUN port).
func splitPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("STUN address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65534 {
		return "", 0, fmt.Errorf("STUN address %q: bad port", addr)
	}
	return host, p, nil
}

// relaySecret is the relay's shared secret, made once and kept in path
// (0600, 64 hex characters on a line, as coturn's static-auth-secret and
// `myst-net relay --secret-file` read it): credentials issued before a
// restart stay valid.
func relaySecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return bytes.TrimSpace(b), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(b))
	if err := atomicfile.Write(path, append(secret, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("relay secret: %w", err)
	}
	return secret, nil
}

// readSecret reads a shared secret from its file's first line (at least
// 16 characters).
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relay secret: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if line = bytes.TrimSpace(line); len(line) < 16 {
		return nil, fmt.Errorf("relay secret in %s: at least 16 characters", path)
	}
	return line, nil
}

// RelaySecret is the relay's shared secret (for issuing credentials).
func (l *Localnet) RelaySecret() []byte { return l.relaySecret }

// deployedBefore returns the network file an earlier run wrote at path if
// its contracts are on this chain (the chain was kept on disk), else nil.
func deployedBefore(ctx context.Context, ec *ethclient.Client, path string) *network.File {
	f, err := network.Load(path)
	if err != nil || f.ChainID != devchain.ChainID || f.TokenAddress == nil || f.PaymentsAddress == nil {
		return nil
	}
	for _, a := range []common.Address{f.RegistryAddress, *f.TokenAddress, *f.PaymentsAddress} {
		if code, err := ec.CodeAt(ctx, a, nil); err != nil || len(code) == 0 {
			return nil
		}
	}
	return f
}

// gasPayer loads the gas payer key kept in dir, or creates it: a keystore
// file encrypted with a random passphrase kept beside it (mode 0600). It is a
// development account on a throw-away chain, reused across restarts.
func gasPayer(dir string) (*identity.Signer, string, string, error) {
	keyFile := filepath.Join(dir, "gas-payer.json")
	passFile := filepath.Join(dir, "gas-payer.pass")
	if blob, err := os.ReadFile(keyFile); err == nil {
		pass, err := os.ReadFile(passFile)
		if err != nil {
			return nil, "", "", err
		}
		key, err := keystore.DecryptKey(blob, string(pass))
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", keyFile, err)
		}
		return identity.NewSigner(key.PrivateKey), keyFile, passFile, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", "", err
	}
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", "", err
	}
	pass := hex.EncodeToString(secret)
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, "", "", err
	}
	k := &keystore.Key{Id: uuid.New(), Address: crypto.PubkeyToAddress(key.PublicKey), PrivateKey: key}
	blob, err := keystore.EncryptKey(k, pass, keystore.LightScryptN, keystore.LightScryptP)
	if err != nil {
		return nil, "", "", err
	}
	if err := atomicfile.Write(passFile, []byte(pass), 0o600); err != nil {
		return nil, "", "", err
	}
	if err := atomicfile.Write(keyFile, blob, 0o600); err != nil {
		return nil, "", "", err
	}
	return identity.NewSigner(key), keyFile, passFile, nil
}
