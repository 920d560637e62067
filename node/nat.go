package node

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/natwatch"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/servicetypes"
	"github.com/mystnode/myst/stun"
)

// PunchTimeout bounds a connect through a NAT that needs punching.
const PunchTimeout = 10 * time.Second

// ErrUnreachable: the consumer's NAT and the provider's leave no UDP path
// between them.
var ErrUnreachable = natwatch.ErrUnreachable

// NAT is what the node knows of its public side.
func (n *Node) NAT() api.NAT {
	p := n.natw.Known()
	v := api.NAT{NAT: string(p.NAT), CheckedAt: p.CheckedAt.UTC(), STUNServers: n.cfg.Network.STUNURLs, Errors: p.Errors}
	if p.IP.IsValid() {
		v.PublicIP = p.IP.String()
	}
	if n.cfg.PublicIP.IsValid() {
		v.Override = n.cfg.PublicIP.String()
	}
	if n.natw.Ports() != nil {
		for _, m := range n.natw.Ports().Mappings() {
			v.Mappings = append(v.Mappings, api.PortMapping{InternalPort: m.InternalPort, External: m.External.String(), Via: m.Via, Renewed: m.Renewed.UTC()})
		}
	}
	return v
}

// stunFor is the STUN servers a consumer connection may ask (none when
// they do not resolve).
func (n *Node) stunFor() []netip.AddrPort {
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	s, _ := n.natw.STUNServers(ctx)
	return s
}

// movePublic points the running tunnel services at the node's new public
// address (same ports: a mapping stays on the router, a cone NAT keeps
// its port when it can) and announces them again. Sessions already up
// whose consumer cannot follow end and reconnect to the new address.
func (n *Node) movePublic(ctx context.Context, ip netip.Addr, nat stun.NAT) {
	n.offer.mu.Lock()
	var svcs []*service
	for _, s := range n.offer.services {
		s.mu.Lock()
		if s.reach.Endpoint.IsValid() {
			svcs = append(svcs, s)
		}
		s.mu.Unlock()
	}
	n.offer.mu.Unlock()
	for _, s := range svcs {
		s.mu.Lock()
		ep := netip.AddrPortFrom(ip, s.reach.Endpoint.Port())
		s.mu.Unlock()
		mover, ok := s.provided.Provisioner.(interface{ SetEndpoint(netip.AddrPort) })
		if !ok {
			n.logger.Warn("this service cannot change its public address while it runs: restart it (`myst service stop`, `myst service start`)", "service", s.id, "type", s.offer.Type)
			continue
		}
		mover.SetEndpoint(ep)
		s.mu.Lock()
		old := s.reach.Endpoint
		s.reach.Endpoint = ep
		if s.reach.NAT != stun.Mapped && s.reach.NAT != stun.Public && (nat == stun.Cone || nat == stun.Symmetric) {
			s.reach.NAT = nat
		}
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := n.announce(actx, s)
		cancel()
		n.logger.Warn("service moved to the new public address; new sessions go there", "service", s.id, "endpoint", ep, "was", old, "announce_err", err)
	}
}

// freeUDPPort is a UDP port free now.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// pathTo says how this node reaches a provider's service of type typ:
// directly (the zero AddrPort), or through the relay, whose server it
// returns (no direct path, and the proposal has a relayed address).
// Neither: ErrUnreachable, naming both sides.
func (n *Node) pathTo(provider common.Address, typ string, p *proposal.Proposal) (netip.AddrPort, error) {
	err := n.natw.Reachable(provider.Hex(), typ, p.Reachability)
	if err == nil {
		return netip.AddrPort{}, nil
	}
	if t, _ := servicetypes.Lookup(typ); p.Relay == "" || !t.Relays {
		return netip.AddrPort{}, err
	}
	servers := n.relayServers()
	if len(servers) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w; it has a relayed address, but this node's network file lists no turn_urls (or none resolves) to learn its own public address from", err)
	}
	relayed, _ := netip.ParseAddrPort(p.Relay)
	for _, s := range servers {
		if s.Addr() == relayed.Addr() {
			return s, nil
		}
	}
	return servers[0], nil
}

// relayServers are the network's relays, resolved.
func (n *Node) relayServers() []netip.AddrPort {
	var hps []string
	for _, u := range n.cfg.Network.TURNURLs {
		if hp, err := stun.ParseTURNURL(u); err == nil {
			hps = append(hps, hp)
		}
	}
	if len(hps) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	s, _ := stun.Resolve(ctx, hps)
	return s
}
