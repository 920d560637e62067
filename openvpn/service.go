package openvpn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/relaylink"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/stun"
)

// Type is the openvpn service type: one openvpn server per service, a
// client per connection.
var Type = session.Type{
	Name:            "openvpn",
	Tunnel:          true,
	DefaultPort:     1194,
	DefaultSubnet:   netip.MustParsePrefix("10.88.0.0/16"),
	Provide:         provide,
	Connector:       newConnector,
	ClientInterface: "mvpnc",
	Relays:          true,
}

// ConsumerConfig is what a consumer sends in session-create (nothing for a
// direct connection).
type ConsumerConfig struct {
	// Relay: the consumer goes through the provider's relayed address;
	// the provider lets its Candidates' addresses (as the relay's STUN
	// saw them) through the relay.
	Relay      bool     `json:"relay,omitempty"`
	Candidates []string `json:"candidates,omitempty"`
}

// The paths a session takes.
const (
	PathDirect  = "direct"
	PathRelayed = "relayed"
)

// authMessage is what a consumer signs to prove it holds a session.
func authMessage(sessionID string) []byte {
	return []byte("myst openvpn auth v1\x00" + sessionID)
}

// provisioner is the provider's openvpn service: one openvpn server,
// clients approved only for live sessions of their identity.
type provisioner struct {
	server *Server
	relay  session.Relay        // nil: no relay allocation
	fwd    *relaylink.Forwarder // the relay's packets to the server

	mu       sync.Mutex
	sessions map[string]session.Info
	permits  map[string][]netip.Addr // relayed sessions' consumer addresses
}

func provide(ctx context.Context, env session.ProvideEnv) (session.Provisioner, error) {
	p := &provisioner{sessions: map[string]session.Info{}, permits: map[string][]netip.Addr{}, relay: env.Relay}
	srv, err := StartServer(ctx, ServerConfig{
		Name: env.ServiceID, Dir: env.Dir, Binary: env.Binary, PublicIP: env.PublicIP, Port: env.Port, Subnet: env.Subnet,
		Authorize: p.authorize, SessionMbit: env.SessionMbit, Logger: env.Logger,
	})
	if err != nil {
		return nil, err
	}
	p.server = srv
	if env.Relay != nil {
		// openvpn knows nothing of the relay: a forwarder hands it each
		// relayed consumer from a local socket of its own.
		p.fwd = relaylink.Forward(env.Relay, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(srv.Port())), env.Logger)
	}
	return p, nil
}

// Start grants the session; a consumer that asks for the relay is let
// through it and told the relayed address.
func (p *provisioner) Start(_ context.Context, s session.Info, raw json.RawMessage) (json.RawMessage, error) {
	var cc ConsumerConfig
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &cc); err != nil {
			return nil, fmt.Errorf("consumer's openvpn config: %v", err)
		}
	}
	cfg := p.server.ClientConfig()
	cfg.Path = PathDirect
	var permits []netip.Addr
	if cc.Relay {
		cands, err := session.Candidates(cc.Candidates, p.server.cfg.Subnet)
		switch {
		case err != nil:
			return nil, fmt.Errorf("consumer's openvpn config: %v", err)
		case p.relay == nil:
			return nil, errors.New("this provider has no relay allocation: connect directly, or choose a provider whose proposal has a relay")
		case len(cands) == 0:
			return nil, errors.New("the consumer asks for the relay but sends no public address (candidates) for the relay's permission")
		}
		permits = session.Permits(cands)
		if err := p.relay.Permit(permits...); err != nil {
			return nil, fmt.Errorf("let the consumer through the relay: %w", err)
		}
		ra := p.relay.Addr()
		cfg.Remote, cfg.Port, cfg.Path = ra.Addr().String(), int(ra.Port()), PathRelayed
	}
	p.mu.Lock()
	p.sessions[s.ID] = s
	if len(permits) > 0 {
		p.permits[s.ID] = permits
	}
	p.mu.Unlock()
	return cfg.Marshal(), nil
}

func (p *provisioner) Stop(s session.Info) {
	p.mu.Lock()
	delete(p.sessions, s.ID)
	gone := p.permits[s.ID]
	delete(p.permits, s.ID)
	for _, ip := range gone {
		if !p.permittedLocked(ip) {
			p.relay.Forget(ip)
		}
	}
	p.mu.Unlock()
	p.server.Kill(s.ID)
}

// permittedLocked says whether a live session's consumer is at ip.
func (p *provisioner) permittedLocked(ip netip.Addr) bool {
	for _, ps := range p.permits {
		if slices.Contains(ps, ip) {
			return true
		}
	}
	return false
}

func (p *provisioner) Bytes(sessionID string) (in, out uint64) { return p.server.Bytes(sessionID) }

func (p *provisioner) Close() error {
	if p.fwd != nil {
		p.fwd.Close()
	}
	return p.server.Close()
}

// authorize approves username (an identity) with password "SESSION:SIG"
// only for a live session of that identity, signed by it.
func (p *provisioner) authorize(username, password string) (string, error) {
	sid, sigHex, ok := strings.Cut(password, ":")
	if !ok {
		return "", errors.New("malformed credentials")
	}
	user, err := identity.ParseAddress(username)
	if err != nil {
		return "", errors.New("username is not an identity")
	}
	p.mu.Lock()
	s, live := p.sessions[sid]
	p.mu.Unlock()
	if !live {
		return "", errors.New("no live session with that id")
	}
	if !strings.EqualFold(s.ConsumerID, user.Hex()) {
		return "", errors.New("the session belongs to another identity")
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(sigHex, "0x"))
	if err != nil {
		return "", errors.New("malformed signature")
	}
	if err := identity.Verify(common.HexToAddress(s.ConsumerID), authMessage(sid), sig); err != nil {
		return "", errors.New("signature is not the session consumer's")
	}
	return sid, nil
}

func newConnector(env session.ConnectEnv) session.Connector {
	return NewClient(ClientOptions{
		Dir: env.Dir, Binary: env.Binary, Username: env.Signer.Address().Hex(),
		Password: func(sid string) (string, error) {
			sig, err := env.Signer.Sign(authMessage(sid))
			if err != nil {
				return "", err
			}
			return sid + ":" + hex.EncodeToString(sig), nil
		},
		Exclude:     env.Exclude,
		ExcludeNets: env.ExcludeNets,
		OnlyNets:    env.OnlyNets,
		Relay:       env.Relay,
		STUN:        env.STUN,
		Logger:      env.Logger,
	})
}

// Config is nil for a direct connection; through the relay it asks for
// it, with this node's public address as the relay's STUN sees it.
func (c *Client) Config() (json.RawMessage, error) {
	if !c.opts.Relay {
		return nil, nil
	}
	cand, _, err := stun.Candidate(c.opts.STUN)
	if err != nil {
		return nil, fmt.Errorf("the relay's STUN did not tell this node its public address (%v): the provider could not let it through", err)
	}
	return json.Marshal(ConsumerConfig{Relay: true, Candidates: []string{cand.String()}})
}

// Peer is the provider's openvpn server address and DNS address.
func (c *Client) Peer(raw json.RawMessage) (session.Peer, error) {
	cfg, err := ParseClientConfig(raw)
	if err != nil {
		return session.Peer{}, err
	}
	ep, err := netip.ParseAddr(cfg.Remote)
	if err != nil {
		return session.Peer{}, err
	}
	dns, _ := netip.ParseAddr(cfg.DNS) // invalid when missing: the node refuses it
	path := PathDirect
	if cfg.Path == PathRelayed {
		path = PathRelayed
	}
	if c.opts.Relay != (path == PathRelayed) {
		return session.Peer{}, fmt.Errorf("provider's openvpn config: path %q, but this node asked for the relay: %v", cfg.Path, c.opts.Relay)
	}
	return session.Peer{Endpoint: ep, DNS: dns, Path: path}, nil
}
