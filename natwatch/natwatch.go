// Package natwatch knows a node's public side: what the network's STUN
// servers say of it (public, cone or symmetric NAT, and its address),
// asked again every CheckEvery and at once when the host's addresses
// change, and how consumers reach a tunnel service behind it (its own
// address, a port mapping from the home router checked with STUN, or the
// NAT's port for hole punching).
package natwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mystnode/myst/portmap"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// STUN timing: each server gets AskTimeout; the watch looks again every
// CheckEvery, and at once when the host's addresses change.
const (
	AskTimeout = 2 * time.Second
	CheckEvery = 2 * time.Minute
	// MapTimeout bounds asking the router for a port mapping.
	MapTimeout = 4 * time.Second
)

// ErrUnreachable: the consumer's NAT and the provider's leave no UDP path
// between them.
var ErrUnreachable = errors.New("no UDP path between this node and the provider")

// Config says what to watch.
type Config struct {
	STUNURLs []string
	// Override is the address the node was told it has (--public-ip):
	// services are reached there, whatever STUN says.
	Override netip.Addr
	Every    time.Duration // default CheckEvery
	Ports    *portmap.Mapper
	// Relay: the network has a relay, so a type that cannot punch is
	// still offered behind NAT without a mapping, reached only through it.
	Relay  bool
	Logger *slog.Logger
	// OnMove, if set, is told when the public address changes (without
	// an Override), so that services can follow.
	OnMove func(ctx context.Context, ip netip.Addr, nat stun.NAT)
}

// Side is what the STUN servers said of this node.
type Side struct {
	NAT       stun.NAT
	IP        netip.Addr // invalid when unknown
	CheckedAt time.Time
	Errors    []string
}

// Watcher holds the node's public side.
type Watcher struct {
	cfg  Config
	mu   sync.Mutex
	side Side
}

// New makes a watcher; nothing is asked until Detect or Run.
func New(cfg Config) *Watcher {
	if cfg.Every <= 0 {
		cfg.Every = CheckEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg}
}

// Known is the public side as last asked.
func (w *Watcher) Known() Side {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.side
}

// Ports is the router's port mappings.
func (w *Watcher) Ports() *portmap.Mapper { return w.cfg.Ports }

// Run looks again every Every and when the host's addresses change, until
// ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	last := addrKey()
	t := time.NewTicker(min(5*time.Second, w.cfg.Every))
	defer t.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k := addrKey()
		if k == last && time.Since(lastCheck) < w.cfg.Every {
			continue
		}
		if k != last {
			w.cfg.Logger.Info("this host's addresses changed; asking STUN again")
		}
		last, lastCheck = k, time.Now()
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w.Detect(dctx)
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

// STUNServers are the network's STUN servers, resolved.
func (w *Watcher) STUNServers(ctx context.Context) ([]netip.AddrPort, error) {
	var hps []string
	for _, u := range w.cfg.STUNURLs {
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

// Detect asks the network's STUN servers what this node's public side is
// and keeps the answer.
func (w *Watcher) Detect(ctx context.Context) Side {
	v := Side{NAT: stun.Unknown, CheckedAt: time.Now()}
	servers, err := w.STUNServers(ctx)
	if err != nil {
		v.Errors = []string{err.Error()}
	} else {
		r, err := stun.Probe(ctx, 0, servers, AskTimeout)
		if err != nil {
			v.Errors = []string{err.Error()}
		} else {
			v.NAT, v.Errors = r.NAT, r.Errors
			if r.Public.IsValid() {
				v.IP = r.Public.Addr()
			}
		}
	}
	w.mu.Lock()
	prev := w.side
	w.side = v
	w.mu.Unlock()
	switch {
	case prev.CheckedAt.IsZero():
		w.cfg.Logger.Info("public side of this node", "nat", v.NAT, "public_ip", v.IP, "override", w.cfg.Override, "stun_errors", v.Errors)
	case prev.NAT != v.NAT || prev.IP != v.IP:
		w.cfg.Logger.Warn("this node's public side changed", "nat", v.NAT, "was", prev.NAT,
			"public_ip", v.IP, "was_ip", prev.IP, "stun_errors", v.Errors)
		if v.IP.IsValid() && prev.IP != v.IP && !w.cfg.Override.IsValid() && w.cfg.OnMove != nil {
			w.cfg.OnMove(ctx, v.IP, v.NAT)
		}
	}
	return v
}

// Reach is how consumers reach one tunnel service.
type Reach struct {
	NAT      stun.NAT
	Endpoint netip.AddrPort // announced to consumers
	Punch    bool           // the provider punches to consumers' candidates
	// RelayOnly: behind NAT without a mapping and unable to punch: only
	// the network's relay reaches the service.
	RelayOnly bool
	Unmap     func() // removes a port mapping; nil for none
}

// Reach decides how consumers reach a tunnel service of type t on local
// UDP port (free now; the service binds it next): the --public-ip
// override; this host's own public address; a port mapping from the
// router, checked with STUN; else, for types that punch, the NAT's public
// port for it (cone), or the honest "symmetric". A type that cannot punch
// behind a NAT without mapping is refused with what to do.
func (w *Watcher) Reach(ctx context.Context, t session.Type, port int, serviceID string) (Reach, error) {
	if w.cfg.Override.IsValid() {
		return Reach{NAT: stun.Public, Endpoint: netip.AddrPortFrom(w.cfg.Override, uint16(port))}, nil
	}
	v := w.Known()
	if v.NAT == stun.Unknown {
		if v = w.Detect(ctx); v.NAT == stun.Unknown {
			return Reach{}, fmt.Errorf("this node does not know its public address (%s): pass --public-ip if it has one, or check the network's stun_urls", joinErrs(v.Errors))
		}
	}
	servers, err := w.STUNServers(ctx)
	if err != nil {
		return Reach{}, err
	}
	if v.NAT == stun.Public {
		return Reach{NAT: stun.Public, Endpoint: netip.AddrPortFrom(v.IP, uint16(port))}, nil
	}
	// Behind NAT: ask the router.
	mctx, cancel := context.WithTimeout(ctx, MapTimeout)
	m, merr := w.cfg.Ports.Map(mctx, port, "myst "+t.Name+" "+serviceID)
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
			return Reach{NAT: stun.Mapped, Endpoint: m.External, Unmap: func() {
				if err := w.cfg.Ports.Unmap(port); err != nil {
					w.cfg.Logger.Warn("remove the port mapping", "port", port, "err", err)
				}
			}}, nil
		}
		w.cfg.Ports.Unmap(port)
	}
	w.cfg.Logger.Info("no port mapping from the router", "service", serviceID, "port", port, "err", merr)
	if !t.Punches && t.Relays && w.cfg.Relay {
		w.cfg.Logger.Info("behind NAT without a mapping: the service is reached through the network's relay only", "service", serviceID, "type", t.Name)
		return Reach{NAT: v.NAT, Endpoint: netip.AddrPortFrom(v.IP, uint16(port)), RelayOnly: true}, nil
	}
	if !t.Punches {
		return Reach{}, fmt.Errorf("%s needs a public address or a port mapping: this node is behind %s NAT and the router made no mapping (%v); offer wireguard, which punches through NAT, or forward UDP %d on the router to this host and pass --public-ip",
			t.Name, v.NAT, merr, port)
	}
	// Punching: the NAT's public port for this local port, as STUN sees it.
	r, err := stun.Probe(ctx, port, servers, AskTimeout)
	if err != nil {
		return Reach{}, err
	}
	if !r.Public.IsValid() {
		return Reach{}, fmt.Errorf("no STUN answer for UDP %d (%s): pass --public-ip if this node has one", port, joinErrs(r.Errors))
	}
	if r.NAT == stun.Symmetric {
		w.cfg.Logger.Warn("this node is behind symmetric NAT and the router made no mapping: only consumers with a public address can reach the service; enable UPnP or NAT-PMP on the router, or forward the port", "service", serviceID, "port", port)
	}
	nat := r.NAT
	if nat == stun.Public {
		nat = stun.Cone // seen from this port, yet behind NAT a moment ago: punch anyway
	}
	return Reach{NAT: nat, Endpoint: r.Public, Punch: true}, nil
}

func joinErrs(es []string) string {
	if len(es) == 0 {
		return "no answer"
	}
	return fmt.Sprint(es)
}

// Reachable refuses at once a provider no UDP path leads to from here,
// naming both sides' NAT.
func (w *Watcher) Reachable(provider, serviceType string, providerNAT stun.NAT) error {
	own := w.Known()
	if stun.Reachable(providerNAT, own.NAT) {
		return nil
	}
	return fmt.Errorf("%w: %s's %s service is behind %s NAT and this node is behind %s NAT, nothing was paid; choose a provider whose reachability is public, mapped, cone or relayed (`myst proposals --reachability public,mapped,cone,relayed`)",
		ErrUnreachable, provider, serviceType, providerNAT, own.NAT)
}
