// Package node is the myst daemon: it holds the node's identities, keeps the
// Registered Identities cache current, stays connected to the broker,
// answers dialogs addressed to its unlocked identities, opens dialogs for
// its consumers, offers services and connects to them. Package localapi
// serves it over HTTP.
package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/forward"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/killswitch"
	"github.com/mystnode/myst/natwatch"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/portmap"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/resolver"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/txsend"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Config says how to build a node.
type Config struct {
	DataDir  string
	Network  *network.File
	LightKDF bool
	Version  string
	Logger   *slog.Logger
	// Country and City are the default location of this node's services.
	Country, City string
	// PublicIP is the address consumers reach this node's services at.
	PublicIP netip.Addr
	// NATCheckEvery is how often the node asks STUN again (default
	// NATCheckEvery); it asks at once when the host's addresses change.
	NATCheckEvery time.Duration
	// AnnounceEvery is how often a service re-posts its proposal (default 30 s).
	AnnounceEvery time.Duration
	// KeepAliveEvery is how often a consumer session pings its provider
	// (default 5 s); SessionTimeout ends provider sessions whose consumer
	// went quiet that long (default 20 s).
	KeepAliveEvery time.Duration
	SessionTimeout time.Duration
	// Tunnels configures each tunnel service type's subnet pool and first
	// port, by type name (default: the type's own).
	Tunnels map[string]TunnelConfig
	// Uplink is the interface tunnel traffic leaves by, with NAT (default:
	// the default route's).
	Uplink        string
	OpenVPNBinary string // default "openvpn"
	// ExitAllow are ranges consumers may reach though they are private (or
	// the uplink's own); BlockPorts are destination ports refused (nil:
	// forward.DefaultBlockedPorts; empty: none). See forward.Exit.
	ExitAllow  []netip.Prefix
	BlockPorts []uint16
	// SessionMbit holds each tunnel session to this many Mbit/s each way
	// (0: no limit).
	SessionMbit float64
	Payments    PaymentsConfig
	// Now is the clock dialog-creates are stamped with (default
	// time.Now); tests set it to play a consumer whose clock is off.
	Now func() time.Time
}

// Node is a running daemon. Its state lives in parts by concern, each
// with the lock that guards it: the consumer's connection (connection.go),
// the provider's services and sessions (services.go), what this node
// knows of its public side (nat.go), payments (payments.go), dialogs
// (identities.go) and the broker connection.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	store   *identity.Store
	reg     *registry.Client
	cache   *registry.Cache
	link    brokerLink
	prom    *prometheus.Registry
	metrics *dialog.Metrics
	settled *prometheus.CounterVec // settlement attempts, by result
	started time.Time
	// joinEvery is how often joinWhenRegistered looks (0: 10 s).
	joinEvery time.Duration
	// txJournal keeps transactions (registrations, settlements) sent and
	// not yet confirmed across restarts.
	txJournal *txsend.Journal
	discovery *discovery.Client

	consumer consumerSide
	offer    providerSide
	natw     *natwatch.Watcher
	money    paymentSide
	peers    dialogSide

	unlockMu    sync.Mutex // one key decryption at a time
	unlockFails map[common.Address]unlockFail

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closers []func() // registered by New in the order parts start; Close runs them in reverse
	once    sync.Once
	done    chan struct{}
}

// brokerLink is the node's broker connection, made at the first unlock.
type brokerLink struct {
	mu       sync.Mutex
	nc       *nats.Conn              // nil until the first identity is unlocked
	admitted map[common.Address]bool // by the last join
}

// dialogSide is the node's dialogs: a listener per unlocked identity
// (answering its consumers) and the dialogs its consumers opened.
type dialogSide struct {
	mu        sync.Mutex
	listeners map[common.Address]*dialog.Listener
	dialogs   map[string]*consumerDialog
}

// unlockFail counts an identity's wrong passphrases in a row.
type unlockFail struct {
	count int
	next  time.Time // no try before
}

type consumerDialog struct {
	d   *dialog.Dialog
	seq int64
	mu  sync.Mutex // one ping at a time per dialog keeps seq meaningful
}

// Defaults is the one place the daemon's defaults are set: New fills what
// a Config leaves zero from it, and the daemon's flags show it.
func Defaults() Config {
	return Config{
		NATCheckEvery:  natwatch.CheckEvery,
		AnnounceEvery:  30 * time.Second,
		KeepAliveEvery: 5 * time.Second,
		SessionTimeout: 20 * time.Second,
		OpenVPNBinary:  "openvpn",
		Payments: PaymentsConfig{
			InvoiceEvery:    5 * time.Second,
			Grace:           20 * time.Second,
			SettleThreshold: new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil), // 1 MYSTT
			MaxFeeGwei:      500,
			StuckAfter:      3 * time.Minute,
			SettleRetryMax:  SettleRetryMax,
			CreditLimit:     payments.DefaultCreditLimit,
		},
	}
}

// withDefaults is c with its zero fields taken from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	c.NATCheckEvery = cmp.Or(c.NATCheckEvery, d.NATCheckEvery)
	c.AnnounceEvery = cmp.Or(c.AnnounceEvery, d.AnnounceEvery)
	c.KeepAliveEvery = cmp.Or(c.KeepAliveEvery, d.KeepAliveEvery)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, d.SessionTimeout)
	c.OpenVPNBinary = cmp.Or(c.OpenVPNBinary, d.OpenVPNBinary)
	p, dp := &c.Payments, d.Payments
	p.InvoiceEvery = cmp.Or(p.InvoiceEvery, dp.InvoiceEvery)
	p.Grace = cmp.Or(p.Grace, dp.Grace)
	p.MaxFeeGwei = cmp.Or(p.MaxFeeGwei, dp.MaxFeeGwei)
	p.StuckAfter = cmp.Or(p.StuckAfter, dp.StuckAfter)
	p.SettleRetryMax = cmp.Or(p.SettleRetryMax, dp.SettleRetryMax)
	if p.SettleThreshold == nil {
		p.SettleThreshold = dp.SettleThreshold
	}
	if p.CreditLimit == nil {
		p.CreditLimit = dp.CreditLimit
	}
	return c
}

// New builds the node's parts in the order data flows, each failure naming
// its step. Nothing runs until Start.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Network == nil {
		return nil, errors.New("node.New: no network")
	}
	if len(cfg.Network.BrokerURLs) == 0 {
		return nil, errors.New("node.New: the network file has no broker_urls; the daemon needs a broker (`myst-net localnet` provides one)")
	}
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, logger: cfg.Logger, unlockFails: map[common.Address]unlockFail{}, done: make(chan struct{})}
	n.money.senders = map[common.Address]*txsend.Sender{}
	n.peers.listeners, n.peers.dialogs = map[common.Address]*dialog.Listener{}, map[string]*consumerDialog{}
	n.offer.services = map[string]*service{}
	n.consumer.conn.st.state = notConnected
	n.ctx, n.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Node, error) {
		n.Close()
		return nil, err
	}

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fail(fmt.Errorf("data dir: %w", err))
	}
	kdf := identity.StandardKDF
	if cfg.LightKDF {
		kdf = identity.LightKDF
	}
	n.store = identity.NewStore(filepath.Join(cfg.DataDir, "keystore"), kdf)

	reg, err := registry.DialURLs(ctx, cfg.Network.RPCURLs(), cfg.Network.ChainID, cfg.Network.RegistryAddress)
	if err != nil {
		return fail(fmt.Errorf("registry.Dial: %w", err))
	}
	n.reg = reg
	n.onClose(reg.Close)
	// Transactions (registrations, settlements) sent and not yet
	// confirmed, kept across restarts.
	if n.txJournal, err = txsend.OpenJournal(filepath.Join(cfg.DataDir, "transactions")); err != nil {
		return fail(err)
	}
	n.cache = registry.NewCache(reg, cfg.Network.RegistryFromBlock)
	// The registry's events read so far, kept across restarts: a node
	// scans from where it stopped, not from the registry's first block.
	if err := n.cache.Persist(filepath.Join(cfg.DataDir, "registry-cache.json"), 10*time.Second); err != nil {
		n.logger.Warn("registry cache file unreadable; scanning the registry again", "err", err)
	}
	n.cache.OnReorg = func(after uint64, dropped int) {
		n.logger.Warn("chain reorganized: registry events after this block read again", "block", after, "identities_dropped", dropped)
	}
	n.onClose(func() {
		if err := n.cache.Save(); err != nil {
			n.logger.Warn("registry cache file", "err", err)
		}
	})

	if urls := cfg.Network.Discoveries(); len(urls) > 0 {
		n.discovery = discovery.NewClient(urls...)
	}
	// NAT rules a crashed run left behind go first.
	if n.offer.pools, err = newPools(cfg.Tunnels); err != nil {
		return fail(err)
	}
	// What a killed run left on the host goes first.
	if err := n.recoverHost(); err != nil {
		return fail(err)
	}
	if cfg.Network.HasPayments() {
		if n.money.client, err = payments.NewClient(reg.Eth(), cfg.Network.ChainID, *cfg.Network.TokenAddress, *cfg.Network.PaymentsAddress); err != nil {
			return fail(fmt.Errorf("payments.NewClient: %w", err))
		}
		if n.money.store, err = payments.OpenStore(filepath.Join(cfg.DataDir, "payments.db")); err != nil {
			return fail(fmt.Errorf("payments.OpenStore: %w", err))
		}
		n.onClose(func() { n.money.store.Close() })
		if err := n.startPayments(ctx); err != nil {
			return fail(fmt.Errorf("payments: %w", err))
		}
	}

	n.prom = prometheus.NewRegistry()
	n.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.metrics = dialog.NewMetrics(n.prom, n.logger)
	n.settled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myst_settlements_total", Help: "Settlement attempts of received promises, by result (ok, failed).",
	}, []string{"result"})
	n.prom.MustRegister(n.settled)

	// The broker connection is made when the first identity is unlocked
	// (see joinBroker). The node's loops end before it closes, after
	// everything below has told its peers.
	n.onClose(func() {
		if nc := n.broker(); nc != nil {
			nc.Close()
		}
	})
	n.onClose(func() {
		n.cancel()
		// What the peers were told goes out, unless the broker is gone
		// (Stop does not wait for it).
		if nc := n.broker(); nc != nil && nc.IsConnected() {
			nc.FlushTimeout(2 * time.Second)
		}
		n.wg.Wait()
	})
	n.onClose(n.closeDialogs)
	n.offer.sessions = session.NewProvider(session.ProviderConfig{KeepAliveTimeout: cfg.SessionTimeout, Logger: n.logger,
		Admit: n.admit, OnCreated: n.startBilling, OnEnd: n.stopBilling})
	n.onClose(n.offer.sessions.Close)
	ports := portmap.New(n.logger)
	n.natw = natwatch.New(natwatch.Config{STUNURLs: cfg.Network.STUNURLs, Override: cfg.PublicIP, Every: cfg.NATCheckEvery, Ports: ports,
		Relay: len(cfg.Network.TURNURLs) > 0, Logger: n.logger, OnMove: n.movePublic})
	n.onClose(func() {
		if err := ports.Close(); err != nil {
			n.logger.Warn("remove port mappings", "err", err)
		}
	})
	n.onClose(n.stopServices)
	n.onClose(n.closeConnection)
	n.natw.Detect(ctx)
	return n, nil
}

// recoverHost undoes what a killed run left on the host, saying so: the
// consumer's kill switch (traffic stayed blocked until now), its rules
// against connections into the tunnel, the resolver pointed at its
// tunnel, and the provider's NAT rules.
func (n *Node) recoverHost() error {
	// A kill switch a killed run left on: traffic stayed blocked until now.
	n.consumer.killSwitch = killswitch.New(n.cfg.DataDir)
	if left, err := n.consumer.killSwitch.Recover(); err != nil {
		return fmt.Errorf("remove the kill switch an earlier run left on: %w", err)
	} else if left {
		n.logger.Warn("removed the kill switch an earlier run left on (it blocked all traffic outside the tunnel since that run died)")
	}
	n.consumer.inbound = killswitch.NewInbound(n.cfg.DataDir)
	if left, err := n.consumer.inbound.Recover(); err != nil {
		return fmt.Errorf("remove the tunnel inbound rules an earlier run left: %w", err)
	} else if left {
		n.logger.Warn("removed the rules an earlier run left against connections into its tunnel")
	}
	// A resolver a killed run left pointed at its tunnel.
	n.consumer.resolver = resolver.NewSystem(resolver.ResolvConf, n.cfg.DataDir)
	if left, err := n.consumer.resolver.Recover(); err != nil {
		return fmt.Errorf("restore the resolver an earlier run changed: %w", err)
	} else if left {
		n.logger.Warn("restored " + resolver.ResolvConf + " as it was before an earlier run connected")
	}
	n.offer.exitNAT = forward.NewNAT(filepath.Join(n.cfg.DataDir, "nat"))
	if count, err := n.offer.exitNAT.Recover(); err != nil {
		return fmt.Errorf("remove NAT rules of an earlier run: %w", err)
	} else if count > 0 {
		n.logger.Warn("removed NAT rules an earlier run left behind", "count", count)
	}
	return nil
}

// broker is the broker connection, nil before the first unlock.
func (n *Node) broker() *nats.Conn {
	n.link.mu.Lock()
	defer n.link.mu.Unlock()
	return n.link.nc
}

// brokerConn is the broker connection, or why there is none.
func (n *Node) brokerConn() (*nats.Conn, error) {
	if nc := n.broker(); nc != nil {
		return nc, nil
	}
	return nil, ErrNoBroker
}

// joinBroker connects to the broker as the node's unlocked identities:
// brokers with admission (see broker.Identities) admit a connection for
// the registered ones among them, so the connection is made at the first
// unlock and made again when another identity is unlocked, to be admitted
// for that one too.
func (n *Node) joinBroker() error {
	n.link.mu.Lock()
	defer n.link.mu.Unlock()
	// The identities this join is admitted for, as far as the node knows.
	n.link.admitted = map[common.Address]bool{}
	for _, s := range n.store.Signers() {
		if _, ok := n.cache.Known(s.Address()); ok {
			n.link.admitted[s.Address()] = true
		}
	}
	if n.link.nc != nil {
		return n.link.nc.ForceReconnect()
	}
	nc, err := broker.Join(n.cfg.Network.BrokerURLs, "myst-node", n.logger, n.store.Signers)
	if nc == nil {
		return upstreamf("%w", err)
	}
	n.link.nc = nc
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		var ids []string
		for _, s := range n.store.Signers() {
			ids = append(ids, s.Address().Hex())
		}
		n.logger.Warn("the broker admits registered identities only and none of this node's is registered yet; it keeps trying and joins once one is (`myst identity register`)", "identities", strings.Join(ids, ", "))
	case err != nil:
		n.logger.Warn("the broker cannot be reached yet; the node keeps trying", "err", err)
	}
	return nil
}

// joinWhenRegistered joins the broker again when an unlocked identity
// the last join did not know as registered is registered now, by any
// means (another tool, another node): the broker admitted the connection
// for the identities registered when it was made, so until then that one
// gets no messages.
func (n *Node) joinWhenRegistered(every time.Duration) {
	defer n.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.link.mu.Lock()
		joined, admitted := n.link.nc != nil, n.link.admitted
		n.link.mu.Unlock()
		if !joined {
			continue
		}
		for _, s := range n.store.Signers() {
			if admitted[s.Address()] {
				continue
			}
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			ok, err := n.cache.IsRegistered(ctx, s.Address())
			cancel()
			if err == nil && ok {
				n.logger.Info("identity registered; joining the broker again to be admitted for it", "id", s.Address().Hex())
				if err := n.joinBroker(); err != nil {
					n.logger.Warn("broker: join again", "err", err)
				}
				break
			}
		}
	}
}

// onClose registers a closer for Close.
func (n *Node) onClose(f func()) { n.closers = append(n.closers, f) }

// Start runs the node's loops.
func (n *Node) Start() {
	n.started = time.Now()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.cache.Run(n.ctx, 2*time.Second, func(err error) { n.logger.Warn("registry cache", "err", err) })
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
		defer cancel()
		done, resent, err := n.txJournal.Resume(ctx, n.reg.Eth())
		switch {
		case err != nil:
			n.logger.Warn("transactions an earlier run left in flight: the chain cannot be asked now; they are waited for when sent again", "err", err)
		case done+resent > 0:
			n.logger.Info("transactions an earlier run left in flight", "mined", done, "sent_again", resent)
		}
	}()
	n.wg.Add(1)
	go n.joinWhenRegistered(cmp.Or(n.joinEvery, 10*time.Second))
	n.wg.Go(func() { n.natw.Run(n.ctx) })
	if !n.paymentsEnabled() {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.money.billing.settler.Run(n.ctx)
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.money.billing.funds.Run(n.ctx, time.Second)
	}()
	// Promises a crashed or stopped run stored but did not settle are paid
	// now (when the network's gas payer can send the transactions; else
	// once the provider identity is unlocked).
	if n.cfg.Network.HasGasPayer() {
		if err := n.money.billing.settler.QueueUnsettled(n.ctx, common.Address{}); err != nil {
			n.logger.Warn("settle at start", "err", err)
		}
	}
}

// Metrics is the node's Prometheus registry.
func (n *Node) Metrics() *prometheus.Registry { return n.prom }

// Close ends the consumer's connection, stops services (unregistering
// their proposals), ends sessions and dialogs (telling each peer), then
// closes the broker, payments store and registry connections: the closers
// New registered, in reverse.
func (n *Node) Close() {
	n.once.Do(func() {
		for i := len(n.closers) - 1; i >= 0; i-- {
			n.closers[i]()
		}
		n.cancel()
		close(n.done)
	})
}

// closeConnection ends the consumer's connection for good, restoring
// what the kill switch blocked.
func (n *Node) closeConnection() {
	n.consumer.mu.Lock()
	c := n.consumer.conn
	n.consumer.conn = connection{st: status{state: notConnected, lastError: "daemon stopped"}}
	n.consumer.mu.Unlock()
	if err := n.endConnection(c); err != nil {
		n.logger.Error("end the connection", "err", err)
	}
}

// stopServices stops every service.
func (n *Node) stopServices() {
	n.offer.mu.Lock()
	services := n.offer.services
	n.offer.services = map[string]*service{}
	n.offer.mu.Unlock()
	for _, s := range services {
		if err := n.stopService(context.Background(), s); err != nil {
			n.logger.Warn("stop service", "id", s.id, "err", err)
		}
	}
}

// closeDialogs closes the consumer dialogs and the listeners (with the
// dialogs consumers opened to them).
func (n *Node) closeDialogs() {
	n.peers.mu.Lock()
	dialogs := n.peers.dialogs
	n.peers.dialogs = map[string]*consumerDialog{}
	listeners := n.peers.listeners
	n.peers.listeners = map[common.Address]*dialog.Listener{}
	n.peers.mu.Unlock()
	for _, cd := range dialogs {
		cd.d.Close()
	}
	for _, l := range listeners {
		l.Close()
	}
}

// Done is closed once Close finished.
func (n *Node) Done() <-chan struct{} { return n.done }
