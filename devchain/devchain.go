// Package devchain runs an in-process go-ethereum development chain: the
// node, Ethereum service and simulated beacon that `geth --dev` uses, with
// blocks sealed as soon as a transaction arrives, served over HTTP JSON-RPC.
package devchain

import (
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strconv"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	gethlog "github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"
)

// ChainID is the chain id of every development chain (as `geth --dev`).
const ChainID = 1337

// Config says how to run the chain.
type Config struct {
	// RPCAddr is host:port for HTTP JSON-RPC; port 0 picks a free one.
	RPCAddr string
	// Funded accounts get a large ether balance in the genesis block.
	Funded []common.Address
	// Period is the block period in seconds; 0 seals a block as soon as a
	// transaction arrives.
	Period uint64
	// Logger receives go-ethereum's warnings and errors; nil discards them.
	Logger *slog.Logger
	// DataDir keeps the chain on disk, every block's state written as it
	// is sealed, so a restart (even after a crash) continues it. "" keeps
	// it in memory, gone when the chain stops. A folder holding a chain of
	// another genesis (other Funded accounts) is refused.
	DataDir string
	// Manual seals blocks only when Commit is called (tests of reorgs:
	// Fork, then Commit a longer side chain); Period is ignored.
	Manual bool
}

// Chain is a running development chain.
type Chain struct {
	stack  *node.Node
	eth    *eth.Ethereum
	beacon *catalyst.SimulatedBeacon
}

// Start builds and starts the chain, in memory or in cfg.DataDir.
func Start(cfg Config) (*Chain, error) {
	host, portText, err := net.SplitHostPort(cfg.RPCAddr)
	if err != nil {
		return nil, fmt.Errorf("rpc address %q: %w", cfg.RPCAddr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("rpc address %q: bad port", cfg.RPCAddr)
	}
	// go-ethereum logs through one process-wide logger.
	if cfg.Logger != nil {
		gethlog.SetDefault(gethlog.NewLogger(cfg.Logger.Handler()))
	} else {
		gethlog.SetDefault(gethlog.NewLogger(slog.DiscardHandler))
	}

	nodeCfg := node.Config{
		Name:    "myst-localnet",
		DataDir: cfg.DataDir, // "" is in memory
		// pebble checks its invariants in race-detector builds, capturing a
		// stack per table read: 10x slower starts under `go test -race`.
		DBEngine:    "leveldb",
		HTTPHost:    host,
		HTTPPort:    port,
		HTTPModules: []string{"eth", "net", "web3"},
		// Requests naming the RPC by IP address are served; by name, only
		// as localhost: a web page whose name resolves to this host (DNS
		// rebinding) cannot read or use the chain.
		HTTPVirtualHosts: []string{"localhost"},
		HTTPTimeouts:     rpc.DefaultHTTPTimeouts,
		P2P:              p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
	}
	stack, err := node.New(&nodeCfg)
	if err != nil {
		return nil, fmt.Errorf("node.New: %w", err)
	}

	genesis := core.DeveloperGenesisBlock(ethconfig.Defaults.Miner.GasCeil, nil)
	for _, a := range cfg.Funded {
		genesis.Alloc[a] = types.Account{Balance: new(big.Int).Lsh(big.NewInt(1), 200)}
	}
	ethCfg := ethconfig.Defaults
	ethCfg.NetworkId = ChainID
	ethCfg.Genesis = genesis
	ethCfg.SyncMode = ethconfig.FullSync
	ethCfg.TxPool.NoLocals = true
	if cfg.DataDir != "" {
		// Archive mode: each block's state goes to disk when it is sealed,
		// not only at a clean shutdown.
		ethCfg.NoPruning = true
		ethCfg.StateScheme = "hash"
	}
	// A dev chain is small: mainnet-sized caches (gigabytes) only cost
	// start-up time and memory.
	ethCfg.DatabaseCache, ethCfg.DatabaseHandles = 16, 64
	ethCfg.TrieCleanCache, ethCfg.TrieDirtyCache, ethCfg.SnapshotCache = 16, 16, 0
	ethCfg.Miner.PendingFeeRecipient = common.Address{}
	if genesis.Config.ChainID.Cmp(big.NewInt(ChainID)) != 0 {
		stack.Close()
		return nil, fmt.Errorf("developer genesis has chain id %v, want %d", genesis.Config.ChainID, ChainID)
	}

	backend, err := eth.New(stack, &ethCfg)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("eth.New: %w", err)
	}
	filterSystem := filters.NewFilterSystem(backend.APIBackend, filters.Config{})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(filterSystem)}})

	beacon, err := catalyst.NewSimulatedBeacon(cfg.Period, common.Address{}, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("catalyst.NewSimulatedBeacon: %w", err)
	}
	if !cfg.Manual {
		// (Its API's loop seals blocks too: not on a manual chain.)
		catalyst.RegisterSimulatedBeaconAPIs(stack, beacon)
		stack.RegisterLifecycle(beacon)
	}

	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("start node: %w", err)
	}
	if cfg.Manual {
		// As go-ethereum's simulated backend: the beacon's fork choice
		// starts at genesis.
		if err := beacon.Fork(backend.BlockChain().GetCanonicalHash(0)); err != nil {
			stack.Close()
			return nil, fmt.Errorf("manual sealing: %w", err)
		}
	}
	return &Chain{stack: stack, eth: backend, beacon: beacon}, nil
}

// Commit seals a block with the pending transactions (Manual chains).
func (c *Chain) Commit() common.Hash { return c.beacon.Commit() }

// Rollback empties the transaction pool (Manual chains): after a Fork,
// what the blocks left behind held is then gone for good.
func (c *Chain) Rollback() { c.beacon.Rollback() }

// Fork makes parent the head at once (a reorg; Manual chains): the next
// Commit builds on it. Transactions of the blocks left behind return to
// the pool.
func (c *Chain) Fork(parent common.Hash) error {
	if err := c.beacon.Fork(parent); err != nil {
		return err
	}
	// The pool follows the new head before Fork returns: what the blocks
	// left behind held is pending again, and can be replaced.
	return c.eth.TxPool().Sync()
}

// RPCURL is the HTTP JSON-RPC endpoint, with the port actually bound.
func (c *Chain) RPCURL() string { return c.stack.HTTPEndpoint() }

// Client returns an in-process RPC client; close it when done.
func (c *Chain) Client() *ethclient.Client { return ethclient.NewClient(c.stack.Attach()) }

// Close stops the chain and frees its memory.
func (c *Chain) Close() error {
	return c.stack.Close()
}
