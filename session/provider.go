package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/proposal"
)

// Service is a running service: one service type of one provider identity,
// at a price, with a cap on concurrent sessions.
type Service struct {
	ID          string
	Type        string
	Provider    common.Address
	Price       proposal.Price
	MaxSessions int
	Provisioner Provisioner
}

// ProviderConfig tunes a Provider.
type ProviderConfig struct {
	// ProposalMaxAge refuses proposals whose updated_at is older (default 10 min).
	ProposalMaxAge time.Duration
	// AckTimeout ends sessions the consumer has not acked (default 30 s).
	AckTimeout time.Duration
	// KeepAliveTimeout ends sessions whose consumer went quiet (default 20 s).
	KeepAliveTimeout time.Duration
	Logger           *slog.Logger
	// Admit, if set, may refuse a session before it starts (for example a
	// consumer whose deposit can't pay for it); its error is the detail of
	// a RefuseDeposit refusal.
	Admit func(ctx context.Context, s Info) error
	// OnCreated hears of each session whose data plane the backend opened,
	// before the consumer is answered (billing starts here); an error
	// refuses the session. OnActive hears of each session the consumer
	// acked, with its dialog; OnEnd of each session that ended (after the
	// backend stopped it), created or active.
	OnCreated func(s Info, d *dialog.Dialog) error
	OnActive  func(s Info, d *dialog.Dialog)
	OnEnd     func(s Info)
}

// Provider answers session requests on the dialogs of a node's provider
// identities and holds their sessions.
type Provider struct {
	cfg ProviderConfig

	mu       sync.Mutex
	services map[string]*Service // by provider/type
	sessions map[string]*providerSession

	stop chan struct{}
	done chan struct{}
}

type providerSession struct {
	info     Info
	svc      *Service
	dialog   *dialog.Dialog
	lastSeen time.Time
}

// NewProvider starts the reaper of stale sessions; Close stops it.
func NewProvider(cfg ProviderConfig) *Provider {
	if cfg.ProposalMaxAge <= 0 {
		cfg.ProposalMaxAge = 10 * time.Minute
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.KeepAliveTimeout <= 0 {
		cfg.KeepAliveTimeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Provider{cfg: cfg, services: map[string]*Service{}, sessions: map[string]*providerSession{}, stop: make(chan struct{}), done: make(chan struct{})}
	go p.reap()
	return p
}

func serviceKey(provider common.Address, typ string) string {
	return strings.ToLower(provider.Hex()) + "/" + typ
}

// AddService starts accepting sessions for o.
func (p *Provider) AddService(o *Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := serviceKey(o.Provider, o.Type)
	if _, ok := p.services[k]; ok {
		return fmt.Errorf("%s already services %s", o.Provider.Hex(), o.Type)
	}
	p.services[k] = o
	return nil
}

// RemoveService stops accepting sessions for the svc and ends its sessions.
func (p *Provider) RemoveService(id string) {
	p.mu.Lock()
	var ending []*providerSession
	for k, o := range p.services {
		if o.ID == id {
			delete(p.services, k)
		}
	}
	for _, s := range p.sessions {
		if s.svc.ID == id {
			ending = append(ending, s)
		}
	}
	p.mu.Unlock()
	for _, s := range ending {
		p.End(s.info.ID, "service stopped")
	}
}

// Sessions lists live sessions.
func (p *Provider) Sessions() []Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Info, 0, len(p.sessions))
	for _, s := range p.sessions {
		out = append(out, s.info)
	}
	return out
}

// CountFor counts live sessions of an svc.
func (p *Provider) CountFor(serviceID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.countLocked(serviceID)
}

func (p *Provider) countLocked(serviceID string) int {
	n := 0
	for _, s := range p.sessions {
		if s.svc.ID == serviceID {
			n++
		}
	}
	return n
}

// Attach serves session requests on a dialog a consumer opened; when the
// dialog closes, its sessions end.
func (p *Provider) Attach(d *dialog.Dialog) {
	d.Handle(TopicCreate, func(ctx context.Context, b []byte) ([]byte, error) {
		var req CreateRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return json.Marshal(CreateResponse{Reason: RefuseBadRequest, Detail: "malformed session-create"})
		}
		return json.Marshal(p.create(ctx, d, &req))
	})
	d.Handle(TopicAck, func(_ context.Context, b []byte) ([]byte, error) {
		var a Ack
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, errors.New("malformed session-ack")
		}
		return nil, p.ack(d, &a)
	})
	d.Handle(TopicKeepAlive, func(_ context.Context, b []byte) ([]byte, error) {
		var k KeepAlive
		if err := json.Unmarshal(b, &k); err != nil {
			return nil, errors.New("malformed keep-alive")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		s := p.sessions[k.SessionID]
		if s == nil || s.dialog != d {
			return json.Marshal(KeepAliveAnswer{Known: false})
		}
		s.lastSeen = time.Now()
		return json.Marshal(KeepAliveAnswer{Known: true})
	})
	d.Handle(TopicDestroy, func(_ context.Context, b []byte) ([]byte, error) {
		var x Destroy
		if err := json.Unmarshal(b, &x); err != nil {
			return nil, errors.New("malformed session-destroy")
		}
		p.mu.Lock()
		s := p.sessions[x.SessionID]
		p.mu.Unlock()
		if s == nil || s.dialog != d {
			return nil, ErrUnknownSession
		}
		p.endSession(s, "destroyed by the consumer", false)
		return nil, nil
	})
	go func() {
		<-d.Done()
		p.mu.Lock()
		var ending []*providerSession
		for _, s := range p.sessions {
			if s.dialog == d {
				ending = append(ending, s)
			}
		}
		p.mu.Unlock()
		for _, s := range ending {
			p.endSession(s, "dialog closed", false)
		}
	}()
}

func refuse(req *CreateRequest, reason, format string, args ...any) CreateResponse {
	return CreateResponse{Reason: reason, Detail: fmt.Sprintf(format, args...), CorrelationID: req.CorrelationID}
}

func (p *Provider) create(ctx context.Context, d *dialog.Dialog, req *CreateRequest) CreateResponse {
	prop, err := req.Proposal.Open()
	if err != nil {
		return refuse(req, RefuseUnknownProposal, "the proposal does not verify: %v", err)
	}
	if prop.Provider() != d.Self() {
		return refuse(req, RefuseUnknownProposal, "the proposal is %s's, not this provider's", prop.Provider().Hex())
	}
	if age := time.Since(prop.UpdatedAt); age > p.cfg.ProposalMaxAge {
		return refuse(req, RefuseStaleProposal, "the proposal is %s old: search again", age.Round(time.Second))
	}
	p.mu.Lock()
	svc := p.services[serviceKey(d.Self(), prop.ServiceType)]
	p.mu.Unlock()
	if svc == nil {
		return refuse(req, RefuseUnknownProposal, "this provider does not serve %s", prop.ServiceType)
	}
	if err := priceCovers(req.AcceptedPrice, svc.Price); err != nil {
		return refuse(req, RefusePrice, "%v", err)
	}
	var idb [16]byte
	rand.Read(idb[:])
	if p.cfg.Admit != nil {
		if err := p.cfg.Admit(ctx, Info{ConsumerID: d.Peer().Hex(), ProviderID: d.Self().Hex(), ServiceType: svc.Type, ServiceID: svc.ID, Price: req.AcceptedPrice}); err != nil {
			return refuse(req, RefuseDeposit, "%v", err)
		}
	}
	info := Info{
		ID: hex.EncodeToString(idb[:]), ConsumerID: d.Peer().Hex(), ProviderID: d.Self().Hex(), ServiceType: svc.Type,
		ServiceID: svc.ID, State: StateCreated, CreatedAt: time.Now().UTC(), Price: req.AcceptedPrice,
	}
	s := &providerSession{info: info, svc: svc, dialog: d, lastSeen: time.Now()}
	p.mu.Lock()
	if p.services[serviceKey(d.Self(), prop.ServiceType)] != svc {
		p.mu.Unlock()
		return refuse(req, RefuseUnknownProposal, "the service stopped")
	}
	if p.countLocked(svc.ID) >= svc.MaxSessions {
		p.mu.Unlock()
		return refuse(req, RefuseCapacity, "the provider serves %d sessions, its maximum", svc.MaxSessions)
	}
	// One session waiting for its ack per consumer: a consumer that never
	// acks gets one data plane at a time, not one per request.
	for _, o := range p.sessions {
		if o.info.State == StateCreated && o.info.ConsumerID == info.ConsumerID && o.info.ProviderID == info.ProviderID {
			p.mu.Unlock()
			return refuse(req, RefuseBusy, "this consumer has a session (%s) the provider is waiting to have acked: ack or end it first", o.info.ID)
		}
	}
	p.sessions[info.ID] = s // holds the slot while the backend starts
	p.mu.Unlock()

	config, err := svc.Provisioner.Start(ctx, info, req.Config)
	if err != nil {
		p.mu.Lock()
		delete(p.sessions, info.ID)
		p.mu.Unlock()
		p.cfg.Logger.Warn("session start failed", "session", info.ID, "err", err)
		return refuse(req, RefuseServiceFailed, "%v", err)
	}
	if p.cfg.OnCreated != nil {
		if err := p.cfg.OnCreated(info, d); err != nil {
			p.mu.Lock()
			delete(p.sessions, info.ID)
			p.mu.Unlock()
			svc.Provisioner.Stop(info)
			if p.cfg.OnEnd != nil {
				p.cfg.OnEnd(info)
			}
			return refuse(req, RefuseServiceFailed, "%v", err)
		}
	}
	p.cfg.Logger.Info("session created", "session", info.ID, "consumer", info.ConsumerID, "service", info.ServiceType, "correlation_id", req.CorrelationID)
	return CreateResponse{Accepted: true, SessionID: info.ID, Config: config, CorrelationID: req.CorrelationID}
}

// priceCovers checks the consumer accepted at least the svc's price.
func priceCovers(accepted, want proposal.Price) error {
	for _, x := range []struct{ name, got, want string }{{"per_hour", accepted.PerHour, want.PerHour}, {"per_gib", accepted.PerGiB, want.PerGiB}} {
		g, err := proposal.ParseAmount(x.got)
		if err != nil {
			return fmt.Errorf("accepted %s: %v", x.name, err)
		}
		w, _ := proposal.ParseAmount(x.want)
		if g.Cmp(w) < 0 {
			return fmt.Errorf("the provider charges %s %s %s, the consumer accepted %s", x.want, proposal.Currency, x.name, x.got)
		}
	}
	return nil
}

func (p *Provider) ack(d *dialog.Dialog, a *Ack) error {
	p.mu.Lock()
	s := p.sessions[a.SessionID]
	if s == nil || s.dialog != d {
		p.mu.Unlock()
		return ErrUnknownSession
	}
	if a.OK {
		s.info.State = StateActive
		s.lastSeen = time.Now()
		info := s.info
		p.mu.Unlock()
		p.cfg.Logger.Info("session active", "session", a.SessionID)
		if p.cfg.OnActive != nil {
			p.cfg.OnActive(info, d)
		}
		return nil
	}
	p.mu.Unlock()
	p.endSession(s, "the consumer failed to connect: "+a.Error, false)
	return nil
}

// End ends a session from the provider's side and tells the consumer.
func (p *Provider) End(id, reason string) bool {
	p.mu.Lock()
	s := p.sessions[id]
	p.mu.Unlock()
	if s == nil {
		return false
	}
	p.endSession(s, reason, true)
	return true
}

// Moved tells the consumers of a service whose data path moved (its
// Provisioner is a Mover) their new config, over their dialogs.
func (p *Provider) Moved(serviceID string) {
	p.mu.Lock()
	var ss []*providerSession
	for _, s := range p.sessions {
		if s.svc.ID == serviceID {
			ss = append(ss, s)
		}
	}
	p.mu.Unlock()
	for _, s := range ss {
		m, ok := s.svc.Provisioner.(Mover)
		if !ok {
			return
		}
		cfg, ok := m.Moved(s.info.ID)
		if !ok {
			continue
		}
		b, _ := json.Marshal(Move{SessionID: s.info.ID, Config: cfg})
		go func() {
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err := s.dialog.Request(ctx, TopicMove, b)
				cancel()
				if err == nil {
					p.cfg.Logger.Info("told the consumer its session's path moved", "session", s.info.ID)
					return
				}
				p.cfg.Logger.Warn("tell the consumer its session's path moved", "session", s.info.ID, "err", err)
			}
		}()
	}
}

func (p *Provider) endSession(s *providerSession, reason string, tell bool) {
	p.mu.Lock()
	if p.sessions[s.info.ID] != s {
		p.mu.Unlock()
		return
	}
	delete(p.sessions, s.info.ID)
	s.info.State, s.info.EndReason = StateEnded, reason
	p.mu.Unlock()
	s.svc.Provisioner.Stop(s.info)
	if p.cfg.OnEnd != nil {
		p.cfg.OnEnd(s.info)
	}
	if tell {
		b, _ := json.Marshal(Destroy{SessionID: s.info.ID, Reason: reason})
		s.dialog.Send(TopicDestroy, b)
	}
	p.cfg.Logger.Info("session ended", "session", s.info.ID, "consumer", s.info.ConsumerID, "reason", reason)
}

func (p *Provider) reap() {
	defer close(p.done)
	t := time.NewTicker(min(p.cfg.KeepAliveTimeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			var ending []*providerSession
			var reasons []string
			p.mu.Lock()
			for _, s := range p.sessions {
				switch {
				case s.info.State == StateCreated && now.Sub(s.info.CreatedAt) > p.cfg.AckTimeout:
					ending, reasons = append(ending, s), append(reasons, "the consumer never acked the session")
				case now.Sub(s.lastSeen) > p.cfg.KeepAliveTimeout:
					ending, reasons = append(ending, s), append(reasons, "the consumer stopped answering")
				}
			}
			p.mu.Unlock()
			for i, s := range ending {
				p.endSession(s, reasons[i], true)
			}
		}
	}
}

// Close ends every session and stops the reaper.
func (p *Provider) Close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	var all []*providerSession
	for _, s := range p.sessions {
		all = append(all, s)
	}
	p.mu.Unlock()
	for _, s := range all {
		p.endSession(s, "provider shutting down", true)
	}
}
