package wireguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
	"github.com/mystnode/myst/syscmd"
	"golang.zx2c4.com/wireguard/conn"
)

// connector is a consumer's wireguard connection: a fresh key, a device of
// its own, and routes that send everything through it.
type connector struct {
	env  session.ConnectEnv
	key  Key
	port int // the device's port, the one STUN saw (0: any)

	mu       sync.Mutex
	dev      *wgDevice
	provider Key
	endpoint netip.AddrPort
	tunnelIP string
	path     string     // the path now, for a connection that can move
	bind     *pathBind  // for one that can: its paths
	since    time.Time  // when Connect began
	added    [][]string // ip route arguments of the host routes Connect added
	down     chan struct{}
	downOnce sync.Once
	downWhy  string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newConnector(env session.ConnectEnv) session.Connector {
	return &connector{env: env, down: make(chan struct{}), stop: make(chan struct{})}
}

// Config makes the connection's key and sends its public half.
func (c *connector) Config() (json.RawMessage, error) {
	k, err := NewPrivateKey()
	if err != nil {
		return nil, err
	}
	c.key = k
	cc := ConsumerConfig{PublicKey: k.Public().String(), Relay: c.env.Relay, Upgrade: c.env.Relay && c.env.Upgrade}
	if len(c.env.STUN) > 0 {
		// The public side of the port the device will use: a provider
		// behind a cone NAT punches to it; a relayed one lets its address
		// through the relay (asked of the relay itself: STUN's first).
		cand, port, err := stun.Candidate(c.env.STUN)
		switch {
		case err != nil && c.env.Relay:
			return nil, fmt.Errorf("the relay's STUN did not tell this node its public address (%v): the provider could not let it through", err)
		case err != nil:
			c.env.Logger.Info("no public candidate for punching", "err", err)
		default:
			c.port, cc.Candidates = port, []string{cand.String()}
		}
	} else if c.env.Relay {
		return nil, errors.New("no STUN server to learn this node's public address for the relay")
	}
	return json.Marshal(cc)
}

// LostAfter is how long a connection may receive nothing (the provider
// sends a keepalive every KeepaliveEvery) before it counts as down.
const LostAfter = 25 * time.Second

// A tunnel also counts as down when, for DeadAfter, the consumer sent at
// least DeadSent bytes through it and got back no more than keepalives
// (DeadReceived): a provider that accepts and forwards nothing.
const (
	DeadAfter    = 8 * time.Second
	DeadSent     = 4 << 10
	DeadReceived = 256
)

// providerConfig is a provider's config, parsed.
type providerConfig struct {
	key      Key
	endpoint netip.AddrPort
	addr     netip.Prefix
	dns      netip.Addr     // invalid: none given
	direct   netip.AddrPort // invalid: none (no upgrade)
	path     string
}

// parseProviderConfig reads what a provider sent in session-create's
// answer: its key, an IPv4 endpoint, the consumer's IPv4 /32 and the
// resolver.
func parseProviderConfig(raw []byte) (providerConfig, error) {
	var pc ProviderConfig
	var out providerConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return out, fmt.Errorf("provider's wireguard config: %w", err)
	}
	var err error
	if out.key, err = ParseKey(pc.PublicKey); err != nil {
		return out, fmt.Errorf("provider's wireguard config: public_key: %w", err)
	}
	if out.endpoint, err = netip.ParseAddrPort(pc.Endpoint); err != nil || !out.endpoint.Addr().Is4() {
		return out, fmt.Errorf("provider's wireguard config: endpoint %q is not an IPv4 address and port", pc.Endpoint)
	}
	if out.addr, err = netip.ParsePrefix(pc.Address); err != nil || !out.addr.Addr().Is4() || out.addr.Bits() != 32 {
		return out, fmt.Errorf("provider's wireguard config: address %q is not an IPv4 /32", pc.Address)
	}
	if pc.DNS != "" {
		if out.dns, err = netip.ParseAddr(pc.DNS); err != nil {
			return out, fmt.Errorf("provider's wireguard config: dns %q is not an IP address", pc.DNS)
		}
	}
	if pc.Direct != "" {
		if out.direct, err = netip.ParseAddrPort(pc.Direct); err != nil || !out.direct.Addr().Is4() || out.direct.Port() == 0 {
			return out, fmt.Errorf("provider's wireguard config: direct %q is not an IPv4 address and port", pc.Direct)
		}
	}
	out.path = pc.Path
	return out, nil
}

// Connect brings the device up, routes everything through it and returns
// once the first handshake with the provider completed.
func (c *connector) Connect(ctx context.Context, _ string, raw json.RawMessage) error {
	pc, err := parseProviderConfig(raw)
	if err != nil {
		return err
	}
	pub, endpoint, addr, dns := pc.key, pc.endpoint, pc.addr, pc.dns
	keep := []netip.Addr{endpoint.Addr()}
	upgrade := c.env.Upgrade && c.env.Relay && pc.direct.IsValid()
	if upgrade {
		keep = append(keep, pc.direct.Addr())
	}
	// Nothing changes on this host for a config that would turn the
	// tunnel against it.
	local, err := session.LocalNetworks("")
	if err != nil {
		return fmt.Errorf("read this host's networks: %w", err)
	}
	if err := session.CheckTunnel(session.TunnelConfig{Address: addr, DNS: dns, Keep: append(keep, c.env.Exclude...)}, local); err != nil {
		return fmt.Errorf("provider's wireguard config refused: %w", err)
	}
	if c.key == (Key{}) {
		return errors.New("no key: Config makes it before Connect")
	}
	var bind conn.Bind
	if upgrade {
		// Relayed first; the bind probes the provider's direct endpoint
		// on the device's socket and moves the sends there once answered.
		pb := newPathBind(nil, c.env.Logger)
		pb.addDual(endpoint, pc.direct, false, true, c.moved)
		bind = pb
		c.mu.Lock()
		c.bind = pb
		c.mu.Unlock()
	}
	name := randomName(Type.ClientInterface)
	dev, err := newDevice(name, c.key, c.port, bind, c.env.Logger)
	if err != nil {
		if pb, ok := bind.(*pathBind); ok {
			pb.shutdown()
		}
		return err
	}
	c.mu.Lock()
	c.dev, c.provider, c.tunnelIP, c.endpoint, c.since = dev, pub, addr.Addr().String(), endpoint, time.Now()
	if upgrade {
		c.path = PathRelayed
	}
	c.mu.Unlock()
	fail := func(err error) error {
		c.Disconnect()
		return err
	}
	// The provider's endpoints and the network's hosts keep their current
	// routes; everything else goes through the tunnel.
	for _, h := range append(keep, c.env.Exclude...) {
		if !h.Is4() || h.IsLoopback() {
			continue
		}
		if err := c.keepRoute(h); err != nil {
			return fail(err)
		}
	}
	// And the networks the user keeps outside (split tunnelling).
	for _, p := range c.env.ExcludeNets {
		if err := c.keepNet(p); err != nil {
			return fail(fmt.Errorf("keep %s outside the tunnel: %w", p, err))
		}
	}
	if err := dev.set(fmt.Sprintf("public_key=%s\nendpoint=%s\nallowed_ip=0.0.0.0/0\n", pub.hex(), endpoint)); err != nil {
		return fail(fmt.Errorf("configure the WireGuard peer: %w", err))
	}
	steps := [][]string{
		{"addr", "add", addr.String(), "dev", name},
		{"link", "set", name, "up"},
		{"route", "add", "0.0.0.0/1", "dev", name},
		{"route", "add", "128.0.0.0/1", "dev", name},
	}
	if len(c.env.OnlyNets) > 0 {
		// Only these (and the provider's DNS address) through the tunnel.
		steps = steps[:2]
		nets := c.env.OnlyNets
		if dns.IsValid() {
			nets = append(slices.Clone(nets), netip.PrefixFrom(dns, 32))
		}
		for _, p := range nets {
			steps = append(steps, []string{"route", "add", p.Masked().String(), "dev", name})
		}
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return fail(err)
		}
	}
	// Turning the keepalive on sends one at once: the handshake starts.
	if err := dev.set(fmt.Sprintf("public_key=%s\npersistent_keepalive_interval=%d\n", pub.hex(), int(KeepaliveEvery/time.Second))); err != nil {
		return fail(err)
	}
	for {
		st, err := dev.get()
		if err != nil {
			return fail(err)
		}
		if st.peers[pub].lastHandshake != 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fail(fmt.Errorf("no WireGuard handshake with %s: %w", endpoint, ctx.Err()))
		case <-time.After(5 * time.Millisecond):
		}
	}
	c.wg.Add(1)
	go c.watch()
	return nil
}

// moved hears that the connection's sends moved to the direct path (or
// back to the relay).
func (c *connector) moved(direct bool) {
	c.mu.Lock()
	path, took := PathRelayed, time.Since(c.since)
	if direct {
		path = PathDirect
	}
	c.path = path
	c.mu.Unlock()
	c.env.Logger.Info("the tunnel's path changed", "path", path, "after", took.Round(time.Millisecond))
}

// Follow moves the tunnel to the provider's new relayed address after its
// relay allocation was made again. Only a move on the same relay host is
// followed (the host routes and the kill switch allow that address), with
// the same provider key.
func (c *connector) Follow(raw json.RawMessage) error {
	var pc ProviderConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return fmt.Errorf("provider's wireguard config: %w", err)
	}
	ep, err := netip.ParseAddrPort(pc.Endpoint)
	if err != nil {
		return fmt.Errorf("provider's wireguard config: endpoint %q: %w", pc.Endpoint, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.dev == nil:
		return errors.New("not connected")
	case pc.PublicKey != c.provider.String():
		return errors.New("a move names another provider key")
	case pc.Path != PathRelayed || !c.env.Relay:
		return errors.New("only a relayed session follows a move")
	case ep.Addr() != c.endpoint.Addr() || ep.Port() == 0:
		return fmt.Errorf("the new address %s is not on the relay host %s this connection allows", ep, c.endpoint.Addr())
	}
	if c.bind != nil {
		if d := c.bind.only(); d != nil {
			c.bind.moveRelayed(d, ep) // the endpoint stays the dual one
		}
	}
	if err := c.dev.set(fmt.Sprintf("public_key=%s\nupdate_only=true\nendpoint=%s\n", c.provider.hex(), ep)); err != nil {
		return fmt.Errorf("set the WireGuard endpoint: %w", err)
	}
	c.env.Logger.Info("following the provider's relayed address", "from", c.endpoint, "to", ep)
	c.endpoint = ep
	return nil
}

// keepRoute pins host h, when it is reached through a gateway, to the
// route it has now, so the tunnel's /1 routes do not capture it.
func (c *connector) keepRoute(h netip.Addr) error {
	r, err := syscmd.RouteTo(h)
	if err != nil {
		return err
	}
	if r.Local || !r.Via.IsValid() {
		// This host itself, or on a connected subnet: its route is more
		// specific than the tunnel's two /1 routes already.
		return nil
	}
	args := []string{"route", "add", h.String() + "/32", "via", r.Via.String(), "dev", r.Dev}
	if err := ip(args...); err != nil {
		if syscmd.IPExists(err) {
			return nil // a route of its own already
		}
		return err
	}
	c.mu.Lock()
	c.added = append(c.added, args)
	c.mu.Unlock()
	return nil
}

// keepNet routes network p the way it goes now (its gateway, or its
// interface), so the tunnel's /1 routes do not capture it.
func (c *connector) keepNet(p netip.Prefix) error {
	r, err := syscmd.RouteTo(p.Addr())
	if err != nil {
		return err
	}
	if r.Local {
		return nil // this host's own addresses
	}
	args := []string{"route", "add", p.String(), "dev", r.Dev}
	if r.Via.IsValid() {
		args = []string{"route", "add", p.String(), "via", r.Via.String(), "dev", r.Dev}
	}
	if err := ip(args...); err != nil {
		if syscmd.IPExists(err) {
			return nil
		}
		return err
	}
	c.mu.Lock()
	c.added = append(c.added, args)
	c.mu.Unlock()
	return nil
}

// watch closes down when nothing arrived from the provider for LostAfter.
func (c *connector) watch() {
	defer c.wg.Done()
	var last uint64
	lastChange := time.Now()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	type point struct {
		at     time.Time
		rx, tx uint64
	}
	var window []point // the last DeadAfter of counters
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		dev, pub := c.dev, c.provider
		c.mu.Unlock()
		if dev == nil {
			return
		}
		st, err := dev.get()
		if err != nil {
			continue
		}
		ps := st.peers[pub]
		now := time.Now()
		window = append(window, point{now, ps.rx, ps.tx})
		for len(window) > 1 && now.Sub(window[1].at) >= DeadAfter {
			window = window[1:]
		}
		w := window[0]
		if ps.rx != last {
			last, lastChange = ps.rx, now
		}
		switch {
		case now.Sub(w.at) >= DeadAfter && ps.tx-w.tx >= DeadSent && ps.rx-w.rx <= DeadReceived:
			why := "nothing back but keepalives: the provider forwards nothing"
			if ps.rx == w.rx {
				why = "nothing back at all: the provider is gone, unreachable, or forwards nothing"
			}
			c.goDown(fmt.Sprintf("%d bytes sent in %s and %s", ps.tx-w.tx, DeadAfter, why))
			return
		case now.Sub(lastChange) > LostAfter:
			c.goDown(fmt.Sprintf("nothing from the provider for %s", LostAfter))
			return
		}
	}
}

func (c *connector) goDown(why string) {
	c.downOnce.Do(func() {
		c.mu.Lock()
		c.downWhy = why
		c.mu.Unlock()
		close(c.down)
	})
}

// DownReason says why the tunnel went down.
func (c *connector) DownReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.downWhy
}

// Disconnect removes the device (its address and the routes through it
// go with it) and the host routes Connect added.
func (c *connector) Disconnect() {
	c.mu.Lock()
	dev, added := c.dev, c.added
	c.dev, c.added = nil, nil
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
	c.wg.Wait()
	if dev != nil {
		dev.close()
	}
	for _, args := range added {
		del := append([]string{"route", "del"}, args[2:]...)
		if err := ip(del...); err != nil {
			c.env.Logger.Warn("remove a route", "err", err)
		}
	}
}

// Stats are the device's counters for the provider.
func (c *connector) Stats() session.Stats {
	c.mu.Lock()
	dev, pub, tip, path := c.dev, c.provider, c.tunnelIP, c.path
	c.mu.Unlock()
	if dev == nil {
		return session.Stats{}
	}
	st, err := dev.get()
	if err != nil {
		return session.Stats{TunnelIP: tip, Interface: dev.name, Path: path}
	}
	ps := st.peers[pub]
	return session.Stats{BytesIn: ps.rx, BytesOut: ps.tx, TunnelIP: tip, Interface: dev.name, Path: path}
}

func (c *connector) Down() <-chan struct{} { return c.down }

// Peer is the provider's WireGuard endpoint address and DNS address.
func (c *connector) Peer(raw json.RawMessage) (session.Peer, error) {
	var pc ProviderConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return session.Peer{}, fmt.Errorf("provider's wireguard config: %w", err)
	}
	ap, err := netip.ParseAddrPort(pc.Endpoint)
	if err != nil {
		return session.Peer{}, fmt.Errorf("provider's wireguard config: endpoint %q: %w", pc.Endpoint, err)
	}
	dns, _ := netip.ParseAddr(pc.DNS) // invalid when missing: the node refuses it
	var direct netip.Addr
	if d, err := netip.ParseAddrPort(pc.Direct); err == nil && c.env.Upgrade {
		direct = d.Addr()
	}
	path := PathDirect
	if pc.Path == PathRelayed || pc.Path == PathPunched {
		path = pc.Path
	}
	if c.env.Relay != (path == PathRelayed) {
		return session.Peer{}, fmt.Errorf("provider's wireguard config: path %q, but this node asked for the relay: %v", pc.Path, c.env.Relay)
	}
	return session.Peer{Endpoint: ap.Addr(), DNS: dns, Path: path, Direct: direct}, nil
}
