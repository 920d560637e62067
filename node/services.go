package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/forward"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/natwatch"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/relaylink"
	"github.com/mystnode/myst/servicetypes"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// providerSide is what the node provides: its running services, the
// sessions consumers hold (session.Provider), the NAT rules that carry
// tunnel traffic out, and the tunnel subnets by type.
type providerSide struct {
	mu       sync.Mutex // guards services
	services map[string]*service
	sessions *session.Provider
	exitNAT  *forward.NAT
	pools    map[string]*forward.Pool // by tunnel type
}

// service is a running service of this node.
type service struct {
	id       string
	offer    Offer // checked, defaults filled
	started  time.Time
	signer   *identity.Signer
	provided *session.Service

	mu          sync.Mutex
	announcedAt time.Time
	announceErr string
	proposal    json.RawMessage

	reach natwatch.Reach // how consumers reach a tunnel service
	// relay is the tunnel's relay allocation (nil: none); relayErr says
	// why there is none when one was wanted.
	relay    *relaylink.Link
	relayErr string

	stop func() // stops the provisioner and gives back what provide took

	cancel context.CancelFunc
	done   chan struct{}
}

func (n *Node) buildProposal(s *service) *proposal.Proposal {
	o := s.offer
	reach, relayed := s.reachability()
	var exit *proposal.Exit
	if t, err := servicetypes.Lookup(s.offer.Type); err == nil && t.Tunnel {
		exit = &proposal.Exit{BlockedPorts: n.blockedPorts(), SessionMbit: n.cfg.SessionMbit, PrivateAllowed: len(n.cfg.ExitAllow) > 0}
	}
	return &proposal.Proposal{
		FormatVersion: proposal.FormatVersion,
		ProviderID:    s.signer.Address().Hex(),
		ServiceType:   s.offer.Type,
		Location:      proposal.Location{Country: o.Country, City: o.City},
		Quality:       proposal.Quality{BandwidthMbps: o.BandwidthMbps},
		Price:         proposal.Price{Currency: proposal.Currency, PerHour: proposal.FormatAmount(o.PriceHour), PerGiB: proposal.FormatAmount(o.PriceGiB)},
		Contacts: []proposal.Contact{{
			Type: proposal.ContactNATS, BrokerURLs: n.cfg.Network.BrokerURLs[:min(len(n.cfg.Network.BrokerURLs), proposal.MaxBrokerURLs)],
			Subject: broker.Mailbox(s.signer.Address()),
		}},
		Reachability: reach,
		Relay:        addrString(relayed),
		Exit:         exit,
		UpdatedAt:    time.Now().UTC().Truncate(time.Millisecond),
	}
}

// reachability is how consumers reach a tunnel service and its relayed
// address (invalid: none): relayed when only the relay does (behind
// symmetric or unknown NAT, or a type that cannot punch).
func (s *service) reachability() (stun.NAT, netip.AddrPort) {
	s.mu.Lock()
	reach, only := s.reach.NAT, s.reach.RelayOnly
	s.mu.Unlock()
	relayed := s.relayAddr()
	if relayed.IsValid() && (only || reach == stun.Symmetric || reach == stun.Unknown) {
		reach = stun.Relayed
	}
	return reach, relayed
}

// relayAddr is the service's relayed address (invalid: none).
func (s *service) relayAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relay == nil {
		return netip.AddrPort{}
	}
	return s.relay.Addr()
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// announce signs a fresh proposal and posts it.
func (n *Node) announce(ctx context.Context, s *service) error {
	signed, err := proposal.Sign(n.buildProposal(s), s.signer)
	if err != nil {
		return err
	}
	_, err = n.discovery.Announce(ctx, signed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.announceErr = err.Error()
		return err
	}
	s.announcedAt, s.announceErr, s.proposal = time.Now().UTC(), "", signed.Proposal
	return nil
}

// keepAnnouncing re-posts the proposal until the service stops.
func (n *Node) keepAnnouncing(ctx context.Context, s *service) {
	defer close(s.done)
	t := time.NewTicker(n.cfg.AnnounceEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := n.announce(actx, s); err != nil && ctx.Err() == nil {
				n.logger.Warn("proposal keep-alive failed; retrying", "service", s.id, "err", err)
			}
			cancel()
		}
	}
}

// Offer is a service to start: who offers which type, where, at what
// price (amounts in the token's smallest units, parsed once by the caller;
// nil is free).
type Offer struct {
	Provider      common.Address
	Type          string
	PriceHour     *big.Int
	PriceGiB      *big.Int
	Country, City string // "": the daemon's --country and --city
	BandwidthMbps float64
	MaxSessions   int // 0: DefaultMaxSessions
}

// DefaultMaxSessions is how many sessions a service takes at once unless
// its offer says.
const DefaultMaxSessions = 10

// check fills o's defaults from the node and checks it; a *FieldError
// names the offer's field.
func (n *Node) check(o *Offer) error {
	if _, err := servicetypes.Lookup(o.Type); err != nil {
		return fieldErrorf("type", "%v", err)
	}
	for _, p := range []**big.Int{&o.PriceHour, &o.PriceGiB} {
		if *p == nil {
			*p = new(big.Int)
		}
	}
	if o.PriceHour.Sign() < 0 || o.PriceGiB.Sign() < 0 {
		return fieldErrorf("price", "a price is not negative")
	}
	if o.Country == "" {
		o.Country = n.cfg.Country
		if o.City == "" {
			o.City = n.cfg.City
		}
	}
	switch {
	case o.Country == "":
		return fieldErrorf("country", "no country: pass one (--country DE), or start the daemon with --country or --geoip-db")
	case !proposal.ValidCountry(o.Country):
		return fieldErrorf("country", "%q is not an ISO 3166-1 alpha-2 country code (like DE)", o.Country)
	case len(o.City) > 64:
		return fieldErrorf("city", "longer than 64 characters")
	case o.BandwidthMbps < 0 || o.BandwidthMbps > 1e6:
		return fieldErrorf("bandwidth_mbps", "must be between 0 and 1000000")
	}
	o.MaxSessions = cmp.Or(o.MaxSessions, DefaultMaxSessions)
	if o.MaxSessions < 1 || o.MaxSessions > 10000 {
		return fieldErrorf("max_sessions", "must be between 1 and 10000")
	}
	return nil
}

// StartService starts offering a service from an unlocked identity and
// announces its proposal.
func (n *Node) StartService(ctx context.Context, o Offer) (api.Service, error) {
	if err := n.check(&o); err != nil {
		return api.Service{}, err
	}
	provider := o.Provider
	if n.discovery == nil {
		return api.Service{}, fmt.Errorf("%w: a service can't be announced", ErrNoDiscovery)
	}
	signer, err := n.unlocked("provider_id", provider)
	if err != nil {
		return api.Service{}, err
	}
	n.offer.mu.Lock()
	for _, s := range n.offer.services {
		if s.signer.Address() == provider && s.offer.Type == o.Type {
			n.offer.mu.Unlock()
			return api.Service{}, &FieldError{Field: "type", Err: retell(ErrServiceRunning, "%s already runs %s as service %s", provider.Hex(), o.Type, s.id)}
		}
	}
	n.offer.mu.Unlock()
	// Dialogs to this identity must be answered.
	if err := n.listen(signer); err != nil {
		return api.Service{}, err
	}

	var idb [8]byte
	rand.Read(idb[:])
	s := &service{
		id:      hex.EncodeToString(idb[:]),
		offer:   o,
		started: time.Now(),
		signer:  signer,
		done:    make(chan struct{}),
	}
	prov, stop, err := n.provide(ctx, s)
	if err != nil {
		return api.Service{}, fmt.Errorf("start %s: %w", o.Type, err)
	}
	s.provided = &session.Service{ID: s.id, Type: o.Type, Provider: provider, MaxSessions: o.MaxSessions, Provisioner: prov,
		Price: proposal.Price{Currency: proposal.Currency, PerHour: proposal.FormatAmount(o.PriceHour), PerGiB: proposal.FormatAmount(o.PriceGiB)}}
	s.stop = stop
	if err := n.offer.sessions.AddService(s.provided); err != nil {
		s.stop()
		return api.Service{}, &FieldError{Field: "type", Err: err}
	}
	if err := n.announce(ctx, s); err != nil {
		n.offer.sessions.RemoveService(s.id)
		s.stop()
		var he *discovery.HTTPError
		if errors.As(err, &he) {
			return api.Service{}, retell(err, "discovery refused the proposal: %s", he.Body.Error)
		}
		return api.Service{}, upstreamf("announce the proposal: %w", err)
	}
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(n.ctx)
	n.offer.mu.Lock()
	n.offer.services[s.id] = s
	n.offer.mu.Unlock()
	go n.keepAnnouncing(runCtx, s)
	n.logger.Info("service started", "id", s.id, "type", s.offer.Type, "provider", provider.Hex())
	return n.serviceView(s), nil
}

func (n *Node) serviceView(s *service) api.Service {
	o := s.offer
	v := api.Service{ID: s.id, ProviderID: o.Provider.Hex(), Type: o.Type, StartedAt: s.started.UTC(), Options: api.ServiceOptions{
		PriceHour: proposal.FormatAmount(o.PriceHour), PriceGiB: proposal.FormatAmount(o.PriceGiB), Country: o.Country, City: o.City,
		BandwidthMbps: o.BandwidthMbps, MaxSessions: o.MaxSessions}}
	s.mu.Lock()
	v.AnnouncedAt, v.AnnounceErr, v.Proposal = s.announcedAt, s.announceErr, s.proposal
	if s.reach.Endpoint.IsValid() {
		v.Reachability, v.Endpoint = string(s.reach.NAT), s.reach.Endpoint.String()
	}
	v.RelayError = s.relayErr
	s.mu.Unlock()
	if reach, relayed := s.reachability(); relayed.IsValid() {
		v.Relay, v.Reachability = relayed.String(), string(reach)
	}
	v.Sessions = n.offer.sessions.CountFor(s.id)
	return v
}

// Services lists the running services.
func (n *Node) Services() []api.Service {
	n.offer.mu.Lock()
	all := make([]*service, 0, len(n.offer.services))
	for _, s := range n.offer.services {
		all = append(all, s)
	}
	n.offer.mu.Unlock()
	out := make([]api.Service, 0, len(all))
	for _, s := range all {
		out = append(out, n.serviceView(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}

// StopService ends a service's sessions and unregisters its proposal.
func (n *Node) StopService(ctx context.Context, id string) error {
	n.offer.mu.Lock()
	s := n.offer.services[id]
	delete(n.offer.services, id)
	n.offer.mu.Unlock()
	if s == nil {
		return &FieldError{Field: "id", Err: fmt.Errorf("%w %q (see `myst service list`)", ErrUnknownService, id)}
	}
	return n.stopService(ctx, s)
}

func (n *Node) stopService(ctx context.Context, s *service) error {
	s.cancel()
	<-s.done
	n.offer.sessions.RemoveService(s.id)
	s.stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := n.discovery.Unregister(ctx, s.signer, s.offer.Type)
	if errors.Is(err, discovery.ErrNoProposal) {
		err = nil
	}
	n.logger.Info("service stopped", "id", s.id, "type", s.offer.Type, "unregister_err", err)
	if err != nil {
		return upstreamf("service stopped, but unregistering its proposal failed (it expires on its own): %w", err)
	}
	return nil
}

// Proposals searches discovery; results are signature-checked.
func (n *Node) Proposals(ctx context.Context, f discovery.Filter) (api.ProposalList, error) {
	if n.discovery == nil {
		return api.ProposalList{}, ErrNoDiscovery
	}
	found, total, dropped, err := n.discovery.Search(ctx, f)
	if err != nil {
		var he *discovery.HTTPError
		if errors.As(err, &he) {
			return api.ProposalList{}, retell(err, "%s", he.Body.Error)
		}
		return api.ProposalList{}, upstreamf("%w", err)
	}
	if dropped > 0 {
		n.logger.Warn("discovery returned proposals with bad signatures; dropped", "count", dropped)
	}
	// Providers this node cannot reach through its NAT come last.
	own := n.natw.Known().NAT
	slices.SortStableFunc(found, func(a, b discovery.Found) int {
		ra, rb := stun.Reachable(a.Proposal.Reachability, own), stun.Reachable(b.Proposal.Reachability, own)
		switch {
		case ra == rb:
			return 0
		case ra:
			return -1
		}
		return 1
	})
	out := api.ProposalList{Proposals: make([]json.RawMessage, 0, len(found)), Total: total}
	for _, f := range found {
		out.Proposals = append(out.Proposals, f.Signed.Proposal)
	}
	return out, nil
}

// Sessions lists the provider's sessions.
func (n *Node) Sessions() []api.SessionInfo {
	infos := n.offer.sessions.Sessions()
	n.offer.mu.Lock()
	meters := map[string]func(string) (uint64, uint64){}
	for id, s := range n.offer.services {
		meters[id] = s.provided.Provisioner.Bytes
	}
	n.offer.mu.Unlock()
	out := make([]api.SessionInfo, 0, len(infos))
	for _, i := range infos {
		v := api.SessionInfo{ID: i.ID, ConsumerID: i.ConsumerID, ProviderID: i.ProviderID, ServiceType: i.ServiceType,
			ServiceID: i.ServiceID, State: string(i.State), CreatedAt: i.CreatedAt, Duration: time.Since(i.CreatedAt)}
		if m := meters[i.ServiceID]; m != nil {
			v.BytesIn, v.BytesOut = m(i.ID)
		}
		if a := n.promisedFor(i); a != nil {
			v.Amount = proposal.FormatAmount(a)
			v.Paused = n.money.billing.ledger.Paused(common.HexToAddress(i.ConsumerID), common.HexToAddress(i.ProviderID), i.ID)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}
