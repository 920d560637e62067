package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/portmap"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// natWatch is what the node knows of its public side (from the network's
// STUN servers, asked again every NATCheckEvery and when the host's
// addresses change) and the port mappings it holds on the home router.
type natWatch struct {
	mu     sync.Mutex
	public publicSide
	ports  *portmap.Mapper
}

// publicSide is what the network's STUN servers said of this node.
type publicSide struct {
	nat       stun.NAT
	ip        netip.Addr // invalid when unknown
	checkedAt time.Time
	errors    []string
}

// known is the public side as the node uses it.
func (n *Node) known() publicSide {
	n.natw.mu.Lock()
	defer n.natw.mu.Unlock()
	return n.natw.public
}

// STUN timing: each server gets AskTimeout; the node looks again every
// NATCheckEvery, and at once when its addresses change.
const (
	AskTimeout    = 2 * time.Second
	NATCheckEvery = 2 * time.Minute
	// MapTimeout bounds asking the router for a port mapping.
	MapTimeout = 4 * time.Second
	// PunchTimeout bounds a connect through a NAT that needs punching.
	PunchTimeout = 10 * time.Second
)

// ErrUnreachable: the consumer's NAT and the provider's leave no UDP path
// between them.
var ErrUnreachable = errors.New("no UDP path between this node and the provider")

// stunServers are the network's STUN servers, resolved.
func (n *Node) stunServers(ctx context.Context) ([]netip.AddrPort, error) {
	var hps []string
	for _, u := range n.cfg.Network.STUNURLs {
		hp, err := stun.ParseURL(u)
		if err != nil {
			return nil, err
		}
		hps = append(hps, hp)
	}
	if len(hps) == 0 {
		return nil, errors.New("the network file lists no stun_urls")
	}
	return stun.Resolve(ctx, hps)
}

// detectNAT asks the network's STUN servers what this node's public side
// is and keeps the answer for NAT() and services.
func (n *Node) detectNAT(ctx context.Context) publicSide {
	v := publicSide{nat: stun.Unknown, checkedAt: time.Now()}
	servers, err := n.stunServers(ctx)
	if err != nil {
		v.errors = []string{err.Error()}
	} else {
		r, err := stun.Probe(ctx, 0, servers, AskTimeout)
		if err != nil {
			v.errors = []string{err.Error()}
		} else {
			v.nat, v.errors = r.NAT, r.Errors
			if r.Public.IsValid() {
				v.ip = r.Public.Addr()
			}
		}
	}
	n.natw.mu.Lock()
	prev := n.natw.public
	n.natw.public = v
	n.natw.mu.Unlock()
	switch {
	case prev.checkedAt.IsZero():
		n.logger.Info("public side of this node", "nat", v.nat, "public_ip", v.ip, "override", n.cfg.PublicIP, "stun_errors", v.errors)
	case prev.nat != v.nat || prev.ip != v.ip:
		n.logger.Warn("this node's public side changed", "nat", v.nat, "was", prev.nat,
			"public_ip", v.ip, "was_ip", prev.ip, "stun_errors", v.errors)
		if v.ip.IsValid() && prev.ip != v.ip && !n.cfg.PublicIP.IsValid() {
			n.movePublic(ctx, v.ip, v.nat)
		}
	}
	return v
}

// NAT is what the node knows of its public side.
func (n *Node) NAT() api.NAT {
	p := n.known()
	v := api.NAT{NAT: string(p.nat), CheckedAt: p.checkedAt.UTC(), STUNServers: n.cfg.Network.STUNURLs, Errors: p.errors}
	if p.ip.IsValid() {
		v.PublicIP = p.ip.String()
	}
	if n.cfg.PublicIP.IsValid() {
		v.Override = n.cfg.PublicIP.String()
	}
	if n.natw.ports != nil {
		for _, m := range n.natw.ports.Mappings() {
			v.Mappings = append(v.Mappings, api.PortMapping{InternalPort: m.InternalPort, External: m.External.String(), Via: m.Via, Renewed: m.Renewed.UTC()})
		}
	}
	return v
}

// watchNAT looks again every NATCheckEvery and when the host's addresses
// change.
func (n *Node) watchNAT() {
	defer n.wg.Done()
	last := addrKey()
	t := time.NewTicker(min(5*time.Second, n.cfg.NATCheckEvery))
	defer t.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		k := addrKey()
		if k == last && time.Since(lastCheck) < n.cfg.NATCheckEvery {
			continue
		}
		if k != last {
			n.logger.Info("this host's addresses changed; asking STUN again")
		}
		last, lastCheck = k, time.Now()
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		n.detectNAT(ctx)
		cancel()
	}
}

func addrKey() string {
	as, _ := net.InterfaceAddrs()
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	slices.Sort(s)
	return fmt.Sprint(s)
}

// stunFor is the STUN servers a consumer connection may ask (none when
// they do not resolve).
func (n *Node) stunFor() []netip.AddrPort {
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	s, _ := n.stunServers(ctx)
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
		if s.reach.endpoint.IsValid() {
			svcs = append(svcs, s)
		}
		s.mu.Unlock()
	}
	n.offer.mu.Unlock()
	for _, s := range svcs {
		s.mu.Lock()
		ep := netip.AddrPortFrom(ip, s.reach.endpoint.Port())
		s.mu.Unlock()
		mover, ok := s.provided.Provisioner.(interface{ SetEndpoint(netip.AddrPort) })
		if !ok {
			n.logger.Warn("this service cannot change its public address while it runs: restart it (`myst service stop`, `myst service start`)", "service", s.info.ID, "type", s.info.Type)
			continue
		}
		mover.SetEndpoint(ep)
		s.mu.Lock()
		old := s.reach.endpoint
		s.reach.endpoint = ep
		if s.reach.nat != stun.Mapped && s.reach.nat != stun.Public && (nat == stun.Cone || nat == stun.Symmetric) {
			s.reach.nat = nat
		}
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := n.announce(actx, s)
		cancel()
		n.logger.Warn("service moved to the new public address; new sessions go there", "service", s.info.ID, "endpoint", ep, "was", old, "announce_err", err)
	}
}

// reach is how consumers reach one tunnel service.
type reach struct {
	nat      stun.NAT
	endpoint netip.AddrPort // announced to consumers
	punch    bool           // the provider punches to consumers' candidates
	unmap    func()         // removes a port mapping; nil for none
}

// reachFor decides how consumers reach a tunnel service of type t on local
// UDP port (free now; the service binds it next): the --public-ip
// override; this host's own public address; a port mapping from the
// router, checked with STUN; else, for types that punch, the NAT's public
// port for it (cone), or the honest "symmetric". A type that cannot punch
// behind a NAT without mapping is refused with what to do.
func (n *Node) reachFor(ctx context.Context, t session.Type, port int, serviceID string) (reach, error) {
	if n.cfg.PublicIP.IsValid() {
		return reach{nat: stun.Public, endpoint: netip.AddrPortFrom(n.cfg.PublicIP, uint16(port))}, nil
	}
	v := n.known()
	if v.nat == stun.Unknown {
		if v = n.detectNAT(ctx); v.nat == stun.Unknown {
			return reach{}, fmt.Errorf("this node does not know its public address (%s): pass --public-ip if it has one, or check the network's stun_urls", joinErrs(v.errors))
		}
	}
	servers, err := n.stunServers(ctx)
	if err != nil {
		return reach{}, err
	}
	if v.nat == stun.Public {
		return reach{nat: stun.Public, endpoint: netip.AddrPortFrom(v.ip, uint16(port))}, nil
	}
	// Behind NAT: ask the router.
	mctx, cancel := context.WithTimeout(ctx, MapTimeout)
	m, merr := n.natw.ports.Map(mctx, port, "myst "+t.Name+" "+serviceID)
	cancel()
	if merr == nil {
		// Checked from outside: STUN must see this port leave by the
		// router's external address.
		r, err := stun.Probe(ctx, port, servers[:1], AskTimeout)
		switch {
		case err != nil:
			merr = err
		case r.Public.Addr() != m.External.Addr():
			merr = fmt.Errorf("the router %s mapped UDP %d to %s but STUN sees the port leave as %v (a second NAT in the way?)", m.Via, port, m.External, r.Public)
		}
		if merr == nil {
			return reach{nat: stun.Mapped, endpoint: m.External, unmap: func() {
				if err := n.natw.ports.Unmap(port); err != nil {
					n.logger.Warn("remove the port mapping", "port", port, "err", err)
				}
			}}, nil
		}
		n.natw.ports.Unmap(port)
	}
	n.logger.Info("no port mapping from the router", "service", serviceID, "port", port, "err", merr)
	if !t.Punches {
		return reach{}, fmt.Errorf("%s needs a public address or a port mapping: this node is behind %s NAT and the router made no mapping (%v); offer wireguard, which punches through NAT, or forward UDP %d on the router to this host and pass --public-ip",
			t.Name, v.nat, merr, port)
	}
	// Punching: the NAT's public port for this local port, as STUN sees it.
	r, err := stun.Probe(ctx, port, servers, AskTimeout)
	if err != nil {
		return reach{}, err
	}
	if !r.Public.IsValid() {
		return reach{}, fmt.Errorf("no STUN answer for UDP %d (%s): pass --public-ip if this node has one", port, joinErrs(r.Errors))
	}
	if r.NAT == stun.Symmetric {
		n.logger.Warn("this node is behind symmetric NAT and the router made no mapping: only consumers with a public address can reach the service; enable UPnP or NAT-PMP on the router, or forward the port", "service", serviceID, "port", port)
	}
	nat := r.NAT
	if nat == stun.Public {
		nat = stun.Cone // seen from this port, yet behind NAT a moment ago: punch anyway
	}
	return reach{nat: nat, endpoint: r.Public, punch: true}, nil
}

func joinErrs(es []string) string {
	if len(es) == 0 {
		return "no answer"
	}
	return fmt.Sprint(es)
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

// checkReachable refuses at once a provider no UDP path leads to from
// here, naming both sides' NAT.
func (n *Node) checkReachable(provider, serviceType string, providerNAT stun.NAT) error {
	own := n.known()
	if stun.Reachable(providerNAT, own.nat) {
		return nil
	}
	return retell(ErrUnreachable, "%s's %s service is behind %s NAT and this node is behind %s NAT: no UDP path between them, nothing was paid; choose a provider whose reachability is public, mapped or cone (`myst proposals --reachability public,mapped,cone`)",
		provider, serviceType, providerNAT, own.nat)
}
