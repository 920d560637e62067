package node

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/killswitch"
	"github.com/mystnode/myst/location"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/resolver"
	"github.com/mystnode/myst/servicetypes"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// consumerSide is the consumer's one connection and what protects the
// host while it lasts: the kill switch, the rules against connections into
// the tunnel, and the resolver.
type consumerSide struct {
	mu         sync.Mutex
	conn       connection
	killSwitch *killswitch.Switch
	inbound    *killswitch.Inbound
	resolver   *resolver.System
}

// connection is the consumer's one connection.
type connection struct {
	st        status
	plan      *plan
	session   *session.Conn
	connector session.Connector
	payer     *payments.Payer
	reconnect context.CancelFunc // stops a reconnect loop; nil when none runs
	done      chan struct{}      // closed when that loop ended
}

// status is the consumer's connection as the node keeps it; Connection
// shows it on the wire (view).
type status struct {
	state       connState
	consumer    common.Address
	provider    common.Address
	serviceType string
	sessionID   string
	since       time.Time
	lastError   string // why the last connection ended or failed
	killSwitch  bool
	dns         netip.Addr // the resolver set while connected; invalid: left alone
	dnsError    string     // why it does not answer, if it does not
	path        string     // direct or relayed
}

// connState is where the consumer's connection is.
type connState string

const (
	notConnected  connState = api.NotConnected
	connecting    connState = api.Connecting
	connected     connState = api.Connected
	reconnecting  connState = api.Reconnecting
	blocked       connState = api.Blocked
	disconnecting connState = api.Disconnecting
)

// view is st on the wire (without the live counters Connection adds).
func (st status) view() api.Connection {
	v := api.Connection{State: string(st.state), ServiceType: st.serviceType, SessionID: st.sessionID, LastError: st.lastError,
		KillSwitch: st.killSwitch, DNSError: st.dnsError, Path: st.path}
	if st.consumer != (common.Address{}) {
		v.ConsumerID, v.ProviderID = st.consumer.Hex(), st.provider.Hex()
	}
	if !st.since.IsZero() {
		v.Since = st.since.UTC()
	}
	if st.dns.IsValid() {
		v.DNS = st.dns.String()
	}
	return v
}

// plan is what a connection is made of; a reconnect makes it again.
type plan struct {
	signer      *identity.Signer
	provider    common.Address
	serviceType string
	killSwitch  bool
	allowLAN    bool
	exclude     []netip.Prefix // outside the tunnel (split tunnelling)
	only        []netip.Prefix // or: the only networks through it
	reconnect   string         // ReconnectEquivalent, ReconnectSame or ReconnectOff
	// offer is the first provider's proposal: what an equivalent one
	// matches (service type, country, no higher price).
	offer    *proposal.Proposal
	dns      resolver.Mode
	dnsAddr  netip.Addr // for resolver.Address
	maxSpend *big.Int   // what one session may cost; nil: no cap
}

// Connection reports the consumer's connection.
func (n *Node) Connection() api.Connection {
	n.consumer.mu.Lock()
	st, c, p := n.consumer.conn.st, n.consumer.conn.connector, n.consumer.conn.payer
	n.consumer.mu.Unlock()
	v := st.view()
	if st.state == connected {
		v.Duration = time.Since(v.Since)
		st := c.Stats()
		v.BytesReceived, v.BytesSent, v.TunnelIP = st.BytesIn, st.BytesOut, st.TunnelIP
		if st.Path != "" {
			v.Path = st.Path // a connection that moves between paths
		}
		if p != nil {
			v.Cost = proposal.FormatAmount(p.Paid())
			v.SpendPerHour = proposal.FormatAmount(p.RatePerHour())
			if p.MaxSpend() != nil {
				v.MaxSpend = proposal.FormatAmount(p.MaxSpend())
			}
		}
	}
	return v
}

func (n *Node) setConn(st status) {
	n.consumer.mu.Lock()
	n.consumer.conn = connection{st: st}
	n.consumer.mu.Unlock()
}

// Connect finds the provider's proposal for the service type in
// discovery, opens a dialog, negotiates a session and brings it up; for a
// tunnel, with the kill switch on unless the request turns it off.
func (n *Node) Connect(ctx context.Context, req api.ConnectionRequest) (api.Connection, error) {
	consumer, err := parseID("consumer_id", req.ConsumerID)
	if err != nil {
		return api.Connection{}, err
	}
	var provider common.Address
	var pick *discovery.Filter // connect to the best: what it must offer
	if req.ProviderID != "" {
		if provider, err = parseID("provider_id", req.ProviderID); err != nil {
			return api.Connection{}, err
		}
	} else if pick, err = bestFilter(req); err != nil {
		return api.Connection{}, err
	}
	if req.ServiceType == "" {
		req.ServiceType = servicetypes.Default
	}
	if !proposal.ValidServiceType(req.ServiceType) {
		return api.Connection{}, fieldErrorf("service_type", "%q is not a service type", req.ServiceType)
	}
	t, err := servicetypes.Lookup(req.ServiceType)
	if err != nil {
		return api.Connection{}, &FieldError{Field: "service_type", Err: err}
	}
	signer, err := n.unlocked("consumer_id", consumer)
	if err != nil {
		return api.Connection{}, err
	}
	if err := n.mustBeRegistered(ctx, "consumer_id", consumer); err != nil {
		return api.Connection{}, err
	}
	if n.discovery == nil {
		return api.Connection{}, ErrNoDiscovery
	}
	p := &plan{signer: signer, provider: provider, serviceType: req.ServiceType, killSwitch: t.Tunnel, allowLAN: req.AllowLAN,
		maxSpend: n.cfg.Payments.MaxSpend}
	if req.MaxSpend != "" {
		v, err := proposal.ParseAmount(req.MaxSpend)
		if err != nil || v.Sign() <= 0 {
			return api.Connection{}, fieldErrorf("max_spend", "%q: want a positive decimal amount of MYSTT", req.MaxSpend)
		}
		p.maxSpend = v
	}
	switch p.reconnect = cmp.Or(req.Reconnect, ReconnectEquivalent); p.reconnect {
	case ReconnectEquivalent, ReconnectSame, ReconnectOff:
	default:
		return api.Connection{}, fieldErrorf("reconnect", "%q: want equivalent, same or off", req.Reconnect)
	}
	if p.exclude, err = parseNets("exclude", req.Exclude); err != nil {
		return api.Connection{}, err
	}
	if p.only, err = parseNets("only", req.Only); err != nil {
		return api.Connection{}, err
	}
	switch {
	case len(p.exclude) > 0 && len(p.only) > 0:
		return api.Connection{}, fieldErrorf("only", "give exclude or only, not both")
	case (len(p.exclude) > 0 || len(p.only) > 0) && !t.Tunnel:
		return api.Connection{}, fieldErrorf("exclude", "%s has no tunnel to split", req.ServiceType)
	}
	if p.dns, p.dnsAddr, err = resolver.ParseMode(req.DNS); err != nil {
		return api.Connection{}, fieldErrorf("dns", "%v", err)
	}
	if !t.Tunnel {
		p.dns = resolver.HostResolver // nothing to send names through
	}
	if req.KillSwitch != nil {
		p.killSwitch = *req.KillSwitch && t.Tunnel
	}
	n.consumer.mu.Lock()
	if n.consumer.conn.st.state != notConnected {
		state := n.consumer.conn.st.state
		n.consumer.mu.Unlock()
		return api.Connection{}, retell(ErrBusy, "the connection is %s: disconnect first (`myst disconnect`)", state)
	}
	st := status{state: connecting, consumer: consumer, provider: provider, serviceType: req.ServiceType, since: time.Now(), killSwitch: p.killSwitch}
	n.consumer.conn = connection{st: st, plan: p}
	n.consumer.mu.Unlock()

	var c connection
	if pick != nil {
		c, err = n.connectBest(ctx, p, pick)
	} else {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err = n.establish(ctx, p)
		cancel()
	}
	if err != nil {
		if p.dns != resolver.HostResolver {
			if rerr := n.consumer.resolver.Restore(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("restore the resolver: %w", rerr))
			}
		}
		if p.killSwitch {
			if kerr := n.consumer.killSwitch.Off(); kerr != nil {
				err = errors.Join(err, fmt.Errorf("the kill switch could not be turned off: %w (run `myst disconnect`)", kerr))
			}
		}
		if ierr := n.consumer.inbound.Off(); ierr != nil {
			n.logger.Warn("remove the tunnel's inbound rules", "err", ierr)
		}
		n.setConn(status{state: notConnected, lastError: err.Error()})
		return api.Connection{}, err
	}
	n.consumer.mu.Lock()
	if n.consumer.conn.st.state != connecting {
		// The daemon is stopping.
		n.consumer.mu.Unlock()
		c.session.Close()
		return api.Connection{}, ErrStopping
	}
	st.state, st.sessionID, st.since, st.dns, st.path = connected, c.session.ID(), c.session.Since(), c.st.dns, c.st.path
	st.provider, st.lastError = p.provider, c.st.lastError
	c.st = st
	n.consumer.conn = c
	n.consumer.mu.Unlock()
	n.probeDNS(c.session, st.dns)
	n.logger.Info("connected", "provider", p.provider.Hex(), "service", req.ServiceType, "session", c.session.ID(), "kill_switch", p.killSwitch)
	return n.Connection(), nil
}

// establish makes one session of the plan: discovery, dialog, session,
// data channel (behind the kill switch when the plan has it), payments.
func (n *Node) establish(ctx context.Context, p *plan) (connection, error) {
	provider := p.provider
	found, _, _, err := n.discovery.Search(ctx, discovery.Filter{ProviderID: strings.ToLower(provider.Hex()), ServiceType: p.serviceType})
	if err != nil {
		var he *discovery.HTTPError
		if errors.As(err, &he) {
			return connection{}, retell(err, "discovery: %s", he.Body.Error)
		}
		return connection{}, upstreamf("%w", err)
	}
	if len(found) == 0 {
		return connection{}, &FieldError{Field: "provider_id", Err: retell(ErrNotOffered, "%s offers no %s service in discovery (see `myst proposals`)", provider.Hex(), p.serviceType)}
	}
	if p.offer == nil {
		p.offer = found[0].Proposal
	}
	route, err := n.pathTo(provider, p.serviceType, found[0].Proposal)
	if err != nil {
		return connection{}, err
	}
	if found[0].Proposal.Reachability == stun.Cone && !route.relay.IsValid() {
		// Through a NAT by punching: it works at once or not at all.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, PunchTimeout)
		defer cancel()
	}
	connector, err := n.connector(p.serviceType, p.signer, route, p.exclude, p.only)
	if err != nil {
		return connection{}, &FieldError{Field: "service_type", Err: err}
	}
	nc, err := n.brokerConn()
	if err != nil {
		return connection{}, err
	}
	d, err := dialog.Dial(ctx, nc, p.signer, provider, n.cache, dialog.DialConfig{Metrics: n.metrics, Now: n.cfg.Now})
	if err != nil {
		return connection{}, dialError(err, provider, "(its node may be down)")
	}
	d.Handle("ping", echo)
	cfg := session.ConsumerConfig{KeepAliveEvery: n.cfg.KeepAliveEvery}
	var opened atomic.Pointer[session.Conn]
	cfg.OnEnd = func(reason string) { n.lost(opened.Load(), reason) }
	var peer session.Peer
	cfg.BeforeConnect = func(providerConfig json.RawMessage) error {
		var err error
		if peer, err = connector.Peer(providerConfig); err != nil {
			return err
		}
		if p.dns == resolver.ThroughProvider && !peer.DNS.IsValid() {
			return errors.New("the provider's config has no DNS address: refused, to keep names inside the tunnel (connect with --dns system or --dns IP)")
		}
		// Nothing comes in through the tunnel but answers: the provider
		// and its other consumers reach none of this host's services.
		if t, _ := servicetypes.Lookup(p.serviceType); t.Tunnel {
			if err := n.consumer.inbound.On(servicetypes.ClientInterfaces()); err != nil {
				return fmt.Errorf("%w: the tunnel would expose this host's services to the provider", err)
			}
		}
		if !p.killSwitch {
			return nil
		}
		allow := append(n.networkHosts(), peer.Endpoint)
		if peer.Direct.IsValid() {
			allow = append(allow, peer.Direct) // where the tunnel moves when it can
		}
		only := p.only
		if len(only) > 0 && peer.DNS.IsValid() {
			only = append(slices.Clone(only), netip.PrefixFrom(peer.DNS, 32))
		}
		return n.consumer.killSwitch.On(killswitch.Config{Allow: allow, AllowLAN: p.allowLAN, AllowNets: p.exclude, OnlyNets: only})
	}
	// Billing starts at session-create: the payer answers invoices from the
	// provider's acceptance on, with its clock started when it asked.
	var payer *payments.Payer
	price := found[0].Proposal.Price
	if payments.Priced(price) {
		if !n.paymentsEnabled() {
			d.Close()
			return connection{}, fmt.Errorf("%w to pay a priced service with", ErrNoPayments)
		}
		cfg.OnAccepted = func(sessionID string, asked time.Time) error {
			bytes := func() uint64 { st := connector.Stats(); return st.BytesIn + st.BytesOut }
			var err error
			payer, err = payments.NewPayer(ctx, payments.PayerConfig{
				Client: n.money.client, Store: n.money.store, Consumer: p.signer, Provider: provider, SessionID: sessionID,
				Price: price, Start: asked, Bytes: bytes, MaxSpend: p.maxSpend,
				OnOverbilled: func(reason string) {
					n.logger.Warn("refusing an invoice; ending the session", "provider", provider.Hex(), "reason", reason)
					if c := opened.Load(); c != nil {
						c.Abort(reason)
					} else {
						d.Close() // still connecting: the connect fails
					}
				},
			})
			if err != nil {
				return fmt.Errorf("payments: %w", err)
			}
			d.Handle(payments.TopicInvoice, payer.Handle)
			d.Handle(payments.TopicAck, payer.HandleAck)
			d.Handle(payments.TopicReserve, payer.HandleReserve)
			return nil
		}
	}
	conn, err := session.Open(ctx, d, found[0].Signed, connector, cfg)
	if err == nil {
		opened.Store(conn)
		select {
		case <-conn.Done():
			err = fmt.Errorf("the session ended at once: %s", conn.Reason())
		default:
		}
	}
	if err != nil {
		d.Close()
		var re *session.RefusedError
		if errors.As(err, &re) {
			return connection{}, retell(err, "%s refused the session: %s", provider.Hex(), re.Explain())
		}
		return connection{}, upstreamf("%w", err)
	}
	if p.killSwitch {
		if err := n.consumer.killSwitch.AllowInterface(connector.Stats().Interface); err != nil {
			conn.Abort("the consumer's kill switch failed")
			return connection{}, err
		}
	}
	st := status{path: peer.Path}
	if p.dns != resolver.HostResolver {
		addr := p.dnsAddr
		if p.dns == resolver.ThroughProvider {
			addr = peer.DNS
			if err := insideTunnel(addr, connector.Stats().Interface, location.Route); err != nil {
				conn.Abort("the provider's DNS address is not inside the tunnel")
				return connection{}, err
			}
		}
		if err := n.consumer.resolver.Set(addr, connector.Stats().Interface); err != nil {
			conn.Abort("the consumer could not set its resolver")
			return connection{}, err
		}
		st.dns = addr
	}
	return connection{st: st, plan: p, session: conn, connector: connector, payer: payer}, nil
}

// probeDNS asks the resolver dns (when one was set) for the root once the
// session s carries traffic, and writes the outcome into the connection's
// view while s is still the connection: connect returns as soon as the
// tunnel works, and status shows a resolver that does not answer.
func (n *Node) probeDNS(s *session.Conn, addr netip.Addr) {
	if !addr.IsValid() {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, 3*time.Second)
		defer cancel()
		msg := ""
		if err := resolver.Probe(ctx, addr, "."); err != nil {
			msg = fmt.Sprintf("the resolver %s does not answer: %v (names do not resolve; nothing falls back to the host's own resolver)", addr, err)
			n.logger.Warn("DNS through the tunnel fails", "dns", addr, "err", err)
		}
		n.consumer.mu.Lock()
		defer n.consumer.mu.Unlock()
		if n.consumer.conn.session == s {
			n.consumer.conn.st.dnsError = msg
		}
	}()
}

// ReconnectTries is how many new sessions a lost connection tries before
// it is Blocked; the waits before them double from one second (the first
// with the same provider, the rest, with ReconnectEquivalent, with
// equivalent ones as long as there are).
const ReconnectTries = 3

// Reconnect modes (api.ConnectionRequest.Reconnect).
const (
	ReconnectEquivalent = "equivalent"
	ReconnectSame       = "same"
	ReconnectOff        = "off"
)

// lost handles the end of a connected session: without the kill switch the
// connection is over; with it, traffic stays blocked while new sessions
// with the same provider are tried, then stays Blocked.
func (n *Node) lost(s *session.Conn, reason string) {
	n.consumer.mu.Lock()
	defer n.consumer.mu.Unlock()
	c := n.consumer.conn
	if c.session == nil || c.session != s || c.st.state != connected {
		return
	}
	n.logger.Warn("connection lost", "provider", c.st.provider.Hex(), "reason", reason)
	if !c.plan.killSwitch {
		// No kill switch: the user chose their own address over blocking,
		// so their own resolver comes back too.
		n.consumer.conn = connection{st: status{state: notConnected, lastError: reason}}
		if c.plan.dns != resolver.HostResolver {
			if err := n.consumer.resolver.Restore(); err != nil {
				n.consumer.conn.st.lastError += "; restoring the resolver failed: " + err.Error()
			}
		}
		if err := n.consumer.inbound.Off(); err != nil {
			n.logger.Warn("remove the tunnel's inbound rules", "err", err)
		}
		return
	}
	if c.plan.reconnect == ReconnectOff {
		v := c.st
		v.state, v.sessionID = blocked, ""
		v.lastError = "the tunnel was lost (" + reason + ") and reconnecting is off; all traffic stays blocked: run `myst disconnect` to restore it"
		n.consumer.conn = connection{st: v, plan: c.plan}
		return
	}
	ctx, cancel := context.WithCancel(n.ctx)
	v := c.st
	v.state, v.sessionID, v.lastError = reconnecting, "", "the tunnel was lost ("+reason+"); traffic stays blocked while reconnecting"
	n.consumer.conn = connection{st: v, plan: c.plan, reconnect: cancel, done: make(chan struct{})}
	n.wg.Add(1)
	go n.reconnect(ctx, c.plan, reason, n.consumer.conn.done)
}

// equivalents are providers whose proposal offers what p's first one did
// (service type, country, no higher price per hour or GiB), other than
// those in tried (ranked).
func (n *Node) equivalents(ctx context.Context, p *plan, tried map[common.Address]bool) []common.Address {
	if p.offer == nil {
		return nil
	}
	f := discovery.Filter{ServiceType: p.serviceType, Country: p.offer.Location.Country}
	if v, err := proposal.ParseAmount(p.offer.Price.PerHour); err == nil {
		f.MaxPriceHour = v
	}
	if v, err := proposal.ParseAmount(p.offer.Price.PerGiB); err == nil {
		f.MaxPriceGiB = v
	}
	out, err := n.rank(ctx, f, p.signer.Address(), tried)
	if err != nil {
		n.logger.Warn("look for an equivalent provider", "err", err)
	}
	return out
}

// rank lists the providers discovery finds for f, but self and those in
// skip: the ones this node reaches (directly or through a relay) first,
// then the cheapest per hour, then per GiB.
func (n *Node) rank(ctx context.Context, f discovery.Filter, self common.Address, skip map[common.Address]bool) ([]common.Address, error) {
	f.Limit = 50
	found, _, _, err := n.discovery.Search(ctx, f)
	if err != nil {
		return nil, err
	}
	own := n.natw.Known().NAT
	reach := func(p *proposal.Proposal) int {
		if stun.Reachable(p.Reachability, own) || p.Relay != "" {
			return 0
		}
		return 1
	}
	price := func(s string) *big.Int {
		v, err := proposal.ParseAmount(s)
		if err != nil {
			return new(big.Int)
		}
		return v
	}
	slices.SortStableFunc(found, func(a, b discovery.Found) int {
		return cmp.Or(cmp.Compare(reach(a.Proposal), reach(b.Proposal)),
			price(a.Proposal.Price.PerHour).Cmp(price(b.Proposal.Price.PerHour)),
			price(a.Proposal.Price.PerGiB).Cmp(price(b.Proposal.Price.PerGiB)))
	})
	var out []common.Address
	for _, x := range found {
		id := common.HexToAddress(x.Proposal.ProviderID)
		if !skip[id] && id != self {
			out = append(out, id)
		}
	}
	return out, nil
}

// Connect to the best: at most BestTries providers, each bounded by
// BestTryTimeout, all within BestTimeout.
const (
	BestTries      = 5
	BestTryTimeout = 10 * time.Second
	BestTimeout    = 45 * time.Second
)

// bestFilter is what a connect without a provider asks of one.
func bestFilter(req api.ConnectionRequest) (*discovery.Filter, error) {
	if !proposal.ValidCountry(req.Country) {
		return nil, fieldErrorf("country", "give a provider (provider_id) or a country to connect to the best one in (like DE)")
	}
	f := &discovery.Filter{ServiceType: cmp.Or(req.ServiceType, servicetypes.Default), Country: req.Country}
	for _, x := range []struct {
		field, v string
		to       **big.Int
	}{{"max_price_hour", req.MaxPriceHour, &f.MaxPriceHour}, {"max_price_gib", req.MaxPriceGiB, &f.MaxPriceGiB}} {
		if x.v == "" {
			continue
		}
		v, err := proposal.ParseAmount(x.v)
		if err != nil || v.Sign() < 0 {
			return nil, fieldErrorf(x.field, "%q: want a decimal amount of MYSTT", x.v)
		}
		*x.to = v
	}
	return f, nil
}

// connectBest tries the ranked providers for f in turn until one
// connects; the status names each while it is tried.
func (n *Node) connectBest(ctx context.Context, p *plan, f *discovery.Filter) (connection, error) {
	ctx, cancel := context.WithTimeout(ctx, BestTimeout)
	defer cancel()
	cands, err := n.rank(ctx, *f, p.signer.Address(), nil)
	if err != nil {
		return connection{}, upstreamf("%w", err)
	}
	if len(cands) == 0 {
		return connection{}, &FieldError{Field: "country", Err: retell(ErrNotOffered, "no provider offers %s in %s at that price (see `myst proposals --country %s`)", f.ServiceType, f.Country, f.Country)}
	}
	var errs []string
	for i, cand := range cands[:min(len(cands), BestTries)] {
		q := *p
		q.provider = cand
		n.consumer.mu.Lock()
		n.consumer.conn.st.provider = cand
		n.consumer.mu.Unlock()
		tctx, tcancel := context.WithTimeout(ctx, BestTryTimeout)
		c, err := n.establish(tctx, &q)
		tcancel()
		if err == nil {
			*p = q
			c.plan = p
			if i > 0 {
				c.st.lastError = "connected to the next best after: " + strings.Join(errs, "; ")
			}
			return c, nil
		}
		n.logger.Warn("best provider failed; trying the next", "provider", cand.Hex(), "err", err)
		errs = append(errs, cand.Hex()+": "+err.Error())
		if ctx.Err() != nil {
			break
		}
	}
	return connection{}, fmt.Errorf("%w: %d providers tried within %s, none connected: %s", ErrUnreachable, min(len(cands), BestTries), BestTimeout, strings.Join(errs, "; "))
}

// reconnect tries new sessions of plan; the kill switch stays on.
func (n *Node) reconnect(ctx context.Context, p *plan, reason string, done chan struct{}) {
	defer n.wg.Done()
	defer close(done)
	var err error
	wait := time.Second
	first := p.provider
	tried := map[common.Address]bool{}
	for try := 1; try <= ReconnectTries; try++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
		// The same provider first; then, unless the plan says same, an
		// equivalent one not tried yet (the same again when there is none).
		q := p
		if try > 1 && p.reconnect == ReconnectEquivalent {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if next := n.equivalents(sctx, p, tried); len(next) > 0 {
				c := *p
				c.provider = next[0]
				q = &c
			}
			cancel()
		}
		tried[q.provider] = true
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var c connection
		c, err = n.establish(tctx, q)
		cancel()
		if err == nil {
			n.consumer.mu.Lock()
			if n.consumer.conn.st.state != reconnecting || ctx.Err() != nil {
				n.consumer.mu.Unlock()
				c.session.Close()
				return
			}
			v := n.consumer.conn.st
			v.state, v.sessionID, v.since, v.lastError = connected, c.session.ID(), c.session.Since(), "reconnected after: "+reason
			if q.provider != first {
				v.lastError = fmt.Sprintf("moved from %s to the equivalent provider %s (same service and country, no higher price) after: %s", first.Hex(), q.provider.Hex(), reason)
			}
			v.provider = q.provider
			v.dns, v.dnsError, v.path = c.st.dns, "", c.st.path
			c.st = v
			n.consumer.conn = c
			n.consumer.mu.Unlock()
			n.probeDNS(c.session, v.dns)
			n.logger.Info("reconnected", "provider", q.provider.Hex(), "was", first.Hex(), "session", c.session.ID(), "try", try)
			return
		}
		n.logger.Warn("reconnect failed", "provider", q.provider.Hex(), "try", try, "err", err)
	}
	n.consumer.mu.Lock()
	defer n.consumer.mu.Unlock()
	if n.consumer.conn.st.state != reconnecting || ctx.Err() != nil {
		return
	}
	n.consumer.conn.st.state = blocked
	n.consumer.conn.st.lastError = fmt.Sprintf("the tunnel was lost (%s) and %d new sessions failed (last: %v); all traffic stays blocked: run `myst disconnect` to restore it, then connect again",
		reason, ReconnectTries, err)
	n.consumer.conn.reconnect, n.consumer.conn.done = nil, nil
}

// Disconnect ends the consumer's connection (connected, reconnecting or
// blocked) and turns the kill switch off.
func (n *Node) Disconnect(ctx context.Context) (api.Connection, error) {
	n.consumer.mu.Lock()
	c := n.consumer.conn
	switch c.st.state {
	case connected, reconnecting, blocked:
	default:
		n.consumer.mu.Unlock()
		return api.Connection{}, fmt.Errorf("%w (the connection is %s)", ErrNotConnected, c.st.state)
	}
	n.consumer.conn.st.state = disconnecting
	n.consumer.mu.Unlock()
	v := status{state: notConnected}
	if err := n.endConnection(c); err != nil {
		v.lastError = err.Error()
		n.setConn(v)
		return api.Connection{}, err
	}
	n.setConn(v)
	n.logger.Info("disconnected", "provider", c.st.provider.Hex(), "session", c.st.sessionID)
	return v.view(), nil
}

// endConnection stops a reconnect loop, ends the session and turns the
// kill switch off, in that order.
func (n *Node) endConnection(c connection) error {
	if c.reconnect != nil {
		c.reconnect()
		<-c.done
	}
	if c.session != nil {
		c.session.Close()
	}
	var errs []error
	if c.plan != nil && c.plan.dns != resolver.HostResolver {
		if err := n.consumer.resolver.Restore(); err != nil {
			errs = append(errs, fmt.Errorf("restore the resolver: %w", err))
		}
	}
	if c.plan != nil && c.plan.killSwitch {
		if err := n.consumer.killSwitch.Off(); err != nil {
			errs = append(errs, fmt.Errorf("%w: the kill switch's rules could not be removed: run `myst disconnect` again, or restart the daemon", err))
		}
	}
	if err := n.consumer.inbound.Off(); err != nil {
		errs = append(errs, fmt.Errorf("remove the tunnel's inbound rules: %w", err))
	}
	return errors.Join(errs...)
}

// MaxSplit bounds the networks of one connection's split tunnel.
const MaxSplit = 32

// parseNets reads the networks of a split tunnel (field exclude or only):
// IPv4 CIDRs or addresses, none wider than /1 (that would be no tunnel,
// or the whole of it), at most MaxSplit.
func parseNets(field string, in []string) ([]netip.Prefix, error) {
	if len(in) > MaxSplit {
		return nil, fieldErrorf(field, "%d networks, at most %d", len(in), MaxSplit)
	}
	var out []netip.Prefix
	for _, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || !p.Addr().Is4() {
			if a, aerr := netip.ParseAddr(strings.TrimSpace(s)); aerr == nil && a.Is4() {
				p, err = netip.PrefixFrom(a, 32), nil
			} else {
				return nil, fieldErrorf(field, "%q is not an IPv4 network (CIDR, like 192.0.2.0/24) or address", s)
			}
		}
		if p.Bits() < 1 {
			return nil, fieldErrorf(field, "%s is everything: that is no tunnel (exclude) or the whole tunnel, the default (only)", p)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// insideTunnel checks that the provider's DNS address addr is on the
// tunnel's own link (iface): a provider must not point the consumer's
// names at its LAN's resolver, or anywhere else outside the tunnel.
func insideTunnel(addr netip.Addr, iface string, route func(netip.Addr) (string, netip.Addr)) error {
	dev, via := route(addr)
	where := "not routed at all"
	switch {
	case iface == "":
		where = "the connection has no tunnel interface"
	case dev == iface && !via.IsValid():
		return nil
	case dev == iface:
		where = "routed through the tunnel to " + via.String() + ", outside the tunnel's subnet"
	case dev != "":
		where = "routed out of " + dev + ", not the tunnel " + iface
	}
	return fmt.Errorf("the provider's DNS address %s is not inside the tunnel (%s): refused, the resolver is unchanged (connect with --dns system or --dns IP)", addr, where)
}
