package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"time"

	"github.com/mystnode/myst/forward"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/location"
	"github.com/mystnode/myst/relaylink"
	"github.com/mystnode/myst/resolver"
	"github.com/mystnode/myst/servicetypes"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// ServiceTypes lists the types (the table is package servicetypes), for
// the CLI's flags and help.
func ServiceTypes() []session.Type { return servicetypes.All }

// TunnelConfig is a tunnel type's share of the node: the pool of tunnel
// subnets (a /24 per service) and the first UDP port (0: free ports).
type TunnelConfig struct {
	Port   int
	Subnet netip.Prefix
}

// newPools makes the subnet/port pool of each tunnel type.
func newPools(cfg map[string]TunnelConfig) (map[string]*forward.Pool, error) {
	pools := map[string]*forward.Pool{}
	for _, t := range servicetypes.All {
		if !t.Tunnel {
			continue
		}
		c, ok := cfg[t.Name]
		if !ok {
			c = TunnelConfig{Port: t.DefaultPort, Subnet: t.DefaultSubnet}
		}
		if !c.Subnet.IsValid() {
			c.Subnet = t.DefaultSubnet
		}
		p, err := forward.NewPool(c.Subnet, c.Port)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Name, err)
		}
		pools[t.Name] = p
	}
	return pools, nil
}

// provide starts the provider side of a new service: for a tunnel type
// with a slot of its pool and its subnet forwarded to the uplink with NAT.
// The returned stop undoes all of it.
func (n *Node) provide(ctx context.Context, s *service) (session.Provisioner, func(), error) {
	t, err := servicetypes.Lookup(s.offer.Type)
	if err != nil {
		return nil, nil, err
	}
	env := session.ProvideEnv{ServiceID: s.id, Dir: filepath.Join(n.cfg.DataDir, t.Name, s.id), PublicIP: n.cfg.PublicIP,
		Binary: n.cfg.OpenVPNBinary, SessionMbit: n.cfg.SessionMbit, Logger: n.logger.With("service", s.id, "type", t.Name)}
	var undo []func()
	var exit forward.Exit
	stop := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if t.Tunnel {
		uplink := n.cfg.Uplink
		if uplink == "" {
			if _, uplink, err = location.DefaultRouteAddr(); err != nil {
				return nil, nil, fmt.Errorf("%w (or name the uplink interface: --uplink)", err)
			}
		}
		pool := n.offer.pools[t.Name]
		slot, err := pool.Take()
		if err != nil {
			return nil, nil, err
		}
		undo = append(undo, func() { pool.Give(slot) })
		env.Subnet, env.Port = slot.Subnet, slot.Port
		if env.Port == 0 {
			if env.Port, err = freeUDPPort(); err != nil {
				stop()
				return nil, nil, err
			}
		}
		r, err := n.natw.Reach(ctx, t, env.Port, s.id)
		if err != nil {
			stop()
			return nil, nil, err
		}
		if r.Unmap != nil {
			undo = append(undo, r.Unmap)
		}
		s.reach = r
		env.PublicIP, env.PublicPort, env.Punch = r.Endpoint.Addr(), int(r.Endpoint.Port()), r.Punch
		if t.Relays && r.NAT != stun.Public && r.NAT != stun.Mapped && len(n.cfg.Network.TURNURLs) > 0 {
			// Behind NAT without a mapping: a relayed address too, for
			// consumers with no direct path.
			link, err := n.openRelay(ctx, s)
			if err != nil && r.RelayOnly {
				stop()
				return nil, nil, fmt.Errorf("%s behind NAT without a mapping is reached only through the network's relay, which gave no allocation: %w", t.Name, err)
			}
			if err != nil {
				s.relayErr = err.Error()
				n.logger.Warn("no relay allocation: only consumers with a direct path reach the service", "service", s.id, "err", err)
			} else {
				s.mu.Lock()
				s.relay = link
				s.mu.Unlock()
				env.Relay = link
				undo = append(undo, func() { link.Close() })
			}
		}
		n.logger.Info("service reachability", "service", s.id, "type", t.Name, "reachability", r.NAT, "endpoint", r.Endpoint, "punch", r.Punch, "relayed", s.relayAddr())
		if exit, err = n.exit(uplink, slot.Subnet); err != nil {
			stop()
			return nil, nil, err
		}
		if err := n.offer.exitNAT.Add(s.id, slot.Subnet, exit); err != nil {
			stop()
			return nil, nil, fmt.Errorf("NAT: %w", err)
		}
		undo = append(undo, func() {
			if err := n.offer.exitNAT.Remove(s.id); err != nil {
				n.logger.Warn("remove NAT rules", "service", s.id, "err", err)
			}
		})
	}
	prov, err := t.Provide(ctx, env)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if t.Tunnel {
		// Consumers' DNS goes to the provider's tunnel address: a forwarder
		// there, for tunnel clients only, asks this host's resolver, and
		// keeps the host's private zones and addresses from them.
		if up, err := resolver.Upstreams(resolver.ResolvConf); err != nil {
			n.logger.Warn("no DNS for consumers of this service", "service", s.id, "err", err)
		} else {
			policy := resolver.Policy{Refuse: exit.Refuse, Allow: exit.Allow, Private: resolver.SearchDomains(resolver.ResolvConf)}
			fwd := resolver.StartForwarder(exit.Gateway, env.Subnet.Masked(), up, policy, env.Logger)
			undo = append(undo, fwd.Close)
		}
	}
	undo = append(undo, func() {
		if err := prov.Close(); err != nil {
			n.logger.Warn("stop service", "service", s.id, "err", err)
		}
	})
	return prov, stop, nil
}

// openRelay allocates on the first of the network's relays that gives
// the service's identity an allocation, with credentials asked over the
// broker. When the relay later moves the allocation (a restart), the
// service is announced again with its new relayed address.
func (n *Node) openRelay(ctx context.Context, s *service) (*relaylink.Link, error) {
	var errs []error
	for _, u := range n.cfg.Network.TURNURLs {
		l, err := relaylink.Open(ctx, relaylink.Config{URL: u, Logger: n.logger.With("service", s.id),
			Grant: func(ctx context.Context) (relaylink.Grant, error) {
				nc, err := n.brokerConn()
				if err != nil {
					return relaylink.Grant{}, err
				}
				return relaylink.Ask(ctx, nc, s.signer)
			},
			OnMove: func(a netip.AddrPort) { n.relayMoved(s, a) }})
		if err == nil {
			return l, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, errors.Join(errs...)
}

// relayMoved tells a service's relayed sessions over their dialogs, and
// announces the service again, after its relay allocation moved. A
// consumer that cannot follow notices the silence and reconnects.
func (n *Node) relayMoved(s *service, a netip.AddrPort) {
	n.logger.Warn("the service's relayed address moved; telling its consumers and announcing it again", "service", s.id, "relayed", a)
	n.offer.sessions.Moved(s.id)
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := n.announce(ctx, s); err != nil {
		n.logger.Warn("announce the new relayed address", "service", s.id, "err", err)
	}
}

// connector makes the consumer side of a connection; through the relay
// when route says (STUN is asked there first, for the address the
// provider lets through).
func (n *Node) connector(typ string, signer *identity.Signer, route path, exclude, only []netip.Prefix) (session.Connector, error) {
	t, err := servicetypes.Lookup(typ)
	if err != nil {
		return nil, err
	}
	env := session.ConnectEnv{Signer: signer, Dir: filepath.Join(n.cfg.DataDir, t.Name+"-client"), Exclude: n.networkHosts(),
		Binary: n.cfg.OpenVPNBinary, Logger: n.logger.With("type", t.Name), STUN: n.stunFor(), ExcludeNets: exclude, OnlyNets: only}
	if route.relay.IsValid() {
		env.Relay, env.Upgrade, env.STUN = true, route.upgrade, append([]netip.AddrPort{route.relay}, env.STUN...)
	}
	return t.Connector(env), nil
}

// networkHosts are the addresses of the network's services, which must stay
// reachable outside the tunnel (the relays too: a consumer asks their STUN
// for its address when it reconnects behind the kill switch).
func (n *Node) networkHosts() []netip.Addr {
	urls := append(append([]string{n.cfg.Network.EtherRPCURL}, n.cfg.Network.Discoveries()...), n.cfg.Network.BrokerURLs...)
	for _, u := range n.cfg.Network.TURNURLs {
		if hp, err := stun.ParseTURNURL(u); err == nil {
			urls = append(urls, "turn://"+hp)
		}
	}
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || pu.Hostname() == "" {
			continue
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(pu.Hostname()); err == nil {
			addrs = []netip.Addr{a}
		} else if ips, err := net.LookupIP(pu.Hostname()); err == nil {
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok {
					addrs = append(addrs, a.Unmap())
				}
			}
		}
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// exit is what the consumers of a tunnel subnet may reach: the internet
// through uplink, the host's DNS on the subnet's gateway, and nothing else
// of the provider's (see forward.Exit).
func (n *Node) exit(uplink string, subnet netip.Prefix) (forward.Exit, error) {
	var tunnels []netip.Prefix
	for _, p := range n.offer.pools {
		tunnels = append(tunnels, p.Prefix())
	}
	refuse, err := forward.Refused(uplink, tunnels)
	if err != nil {
		return forward.Exit{}, err
	}
	return forward.Exit{Uplink: uplink, Gateway: subnet.Masked().Addr().Next(), Refuse: refuse, Allow: n.cfg.ExitAllow, BlockPorts: n.blockedPorts(),
		HostPorts: []forward.HostPort{{Proto: "udp", Port: 53}, {Proto: "tcp", Port: 53}}}, nil
}

// blockedPorts are the destination ports refused to consumers (nil in the
// config: forward.DefaultBlockedPorts).
func (n *Node) blockedPorts() []uint16 {
	if n.cfg.BlockPorts == nil {
		return forward.DefaultBlockedPorts
	}
	return n.cfg.BlockPorts
}
