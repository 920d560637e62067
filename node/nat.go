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
func (n *Node) movePublic(_ context.Context, ip netip.Addr, nat stun.NAT) {
	// Not the STUN check's short context: relay allocations and
	// announcements follow.
	ctx, cancel := context.WithTimeout(n.ctx, 45*time.Second)
	defer cancel()
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
		link, relayOnly := s.relay, s.reach.RelayOnly
		s.mu.Unlock()
		if link != nil {
			// The relay knows the allocation by its old source address.
			// The broker connection often drops with the address too:
			// credentials may take a few tries.
			for try := 1; try <= 4; try++ {
				rctx, cancel := context.WithTimeout(ctx, 8*time.Second)
				err := link.Renew(rctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					break
				}
				n.logger.Warn("allocate on the relay again after the address change", "service", s.id, "try", try, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}
		mover, ok := s.provided.Provisioner.(interface{ SetEndpoint(netip.AddrPort) })
		if !ok && relayOnly {
			continue // reached through the relay only: renewed above
		}
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

// path is how a consumer reaches a provider's service: directly (relay
// invalid), through the relay whose server is relay, or through it first
// and then directly (upgrade).
type path struct {
	relay   netip.AddrPort
	upgrade bool
}

// pathTo says how this node reaches a provider's service of type typ:
// directly to a public or mapped provider; through the relay and then
// directly to a cone one with a relayed address (the pair could punch:
// the connection starts at once and moves when the punch works); through
// the relay when no direct path exists and the proposal has a relayed
// address. Neither: ErrUnreachable, naming both sides.
func (n *Node) pathTo(provider common.Address, typ string, p *proposal.Proposal) (path, error) {
	t, _ := servicetypes.Lookup(typ)
	err := n.natw.Reachable(provider.Hex(), typ, p.Reachability)
	if p.Relay == "" || !t.Relays || (err == nil && p.Reachability != stun.Cone) {
		return path{}, err
	}
	servers := n.relayServers()
	if len(servers) == 0 {
		if err == nil {
			return path{}, nil // punch directly, as without a relay
		}
		return path{}, fmt.Errorf("%w; it has a relayed address, but this node's network file lists no turn_urls (or none resolves) to learn its own public address from", err)
	}
	out := path{relay: servers[0], upgrade: err == nil}
	relayed, _ := netip.ParseAddrPort(p.Relay)
	for _, s := range servers {
		if s.Addr() == relayed.Addr() {
			out.relay = s
		}
	}
	return out, nil
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
