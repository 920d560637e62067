package openvpn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/session"
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
}

// authMessage is what a consumer signs to prove it holds a session.
func authMessage(sessionID string) []byte {
	return []byte("myst openvpn auth v1\x00" + sessionID)
}

// provisioner is the provider's openvpn service: one openvpn server,
// clients approved only for live sessions of their identity.
type provisioner struct {
	server *Server

	mu       sync.Mutex
	sessions map[string]session.Info
}

func provide(ctx context.Context, env session.ProvideEnv) (session.Provisioner, error) {
	p := &provisioner{sessions: map[string]session.Info{}}
	srv, err := StartServer(ctx, ServerConfig{
		Name: env.ServiceID, Dir: env.Dir, Binary: env.Binary, PublicIP: env.PublicIP, Port: env.Port, Subnet: env.Subnet,
		Authorize: p.authorize, SessionMbit: env.SessionMbit, Logger: env.Logger,
	})
	if err != nil {
		return nil, err
	}
	p.server = srv
	return p, nil
}

func (p *provisioner) Start(_ context.Context, s session.Info, _ json.RawMessage) (json.RawMessage, error) {
	p.mu.Lock()
	p.sessions[s.ID] = s
	p.mu.Unlock()
	return p.server.ClientConfig().Marshal(), nil
}

func (p *provisioner) Stop(s session.Info) {
	p.mu.Lock()
	delete(p.sessions, s.ID)
	p.mu.Unlock()
	p.server.Kill(s.ID)
}

func (p *provisioner) Bytes(sessionID string) (in, out uint64) { return p.server.Bytes(sessionID) }

func (p *provisioner) Close() error { return p.server.Close() }

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
		Exclude: env.Exclude,
		Logger:  env.Logger,
	})
}

// Config is nil: openvpn consumers send no config in session-create.
func (c *Client) Config() (json.RawMessage, error) { return nil, nil }

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
	return session.Peer{Endpoint: ep, DNS: dns}, nil
}
