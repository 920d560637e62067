package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/openvpn"
	"github.com/mystnode/myst/session"
)

// OpenVPNConfig configures the node's OpenVPN services.
type OpenVPNConfig struct {
	Binary string       // default "openvpn"
	Port   int          // first UDP port; 0 picks free ports
	Subnet netip.Prefix // pool of tunnel subnets, a /24 per service (default 10.88.0.0/16)
	Uplink string       // NAT out of this interface (default: the default route's)
}

// authMessage is what a consumer signs to prove it holds a session.
func authMessage(sessionID string) []byte {
	return []byte("myst openvpn auth v1\x00" + sessionID)
}

// openvpnProvisioner is the provider's openvpn service: one openvpn server,
// clients approved only for live sessions of their identity.
type openvpnProvisioner struct {
	server *openvpn.Server

	mu       sync.Mutex
	sessions map[string]session.Info
}

func (b *openvpnProvisioner) Start(_ context.Context, s session.Info, _ json.RawMessage) (json.RawMessage, error) {
	b.mu.Lock()
	b.sessions[s.ID] = s
	b.mu.Unlock()
	return b.server.ClientConfig().Marshal(), nil
}

func (b *openvpnProvisioner) Stop(s session.Info) {
	b.mu.Lock()
	delete(b.sessions, s.ID)
	b.mu.Unlock()
	b.server.Kill(s.ID)
}

// authorize approves username (an identity) with password "SESSION:SIG"
// only for a live session of that identity, signed by it.
func (b *openvpnProvisioner) authorize(username, password string) (string, error) {
	sid, sigHex, ok := strings.Cut(password, ":")
	if !ok {
		return "", errors.New("malformed credentials")
	}
	user, err := identity.ParseAddress(username)
	if err != nil {
		return "", errors.New("username is not an identity")
	}
	b.mu.Lock()
	s, live := b.sessions[sid]
	b.mu.Unlock()
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

// startOpenVPN starts the server of a new openvpn service.
func (n *Node) startOpenVPN(ctx context.Context, s *service) (*openvpnProvisioner, error) {
	n.mu.Lock()
	idx := n.openvpnStarted
	n.openvpnStarted++
	n.mu.Unlock()
	pool := n.cfg.OpenVPN.Subnet
	if !pool.IsValid() {
		pool = netip.MustParsePrefix("10.88.0.0/16")
	}
	if pool.Bits() > 24 {
		return nil, fmt.Errorf("--openvpn-subnet %s: want /24 or larger", pool)
	}
	base := pool.Masked().Addr().As4()
	base[2] += byte(idx)
	subnet := netip.PrefixFrom(netip.AddrFrom4(base), 24)
	port := n.cfg.OpenVPN.Port
	if port != 0 {
		port += idx
	}
	b := &openvpnProvisioner{sessions: map[string]session.Info{}}
	srv, err := openvpn.StartServer(ctx, openvpn.ServerConfig{
		Name: s.info.ID, Dir: filepath.Join(n.cfg.DataDir, "openvpn", s.info.ID), Binary: n.cfg.OpenVPN.Binary,
		PublicIP: n.cfg.PublicIP, Port: port, Subnet: subnet, Uplink: n.cfg.OpenVPN.Uplink, NAT: n.nat,
		Authorize: b.authorize, Logger: n.logger.With("service", s.info.ID),
	})
	if err != nil {
		return nil, err
	}
	b.server = srv
	return b, nil
}

// openvpnConnector is the consumer's openvpn client for one connection.
func (n *Node) openvpnConnector(signer *identity.Signer) *openvpn.Client {
	return openvpn.NewClient(openvpn.ClientOptions{
		Dir: filepath.Join(n.cfg.DataDir, "openvpn-client"), Binary: n.cfg.OpenVPN.Binary, Username: signer.Address().Hex(),
		Password: func(sid string) (string, error) {
			sig, err := signer.Sign(authMessage(sid))
			if err != nil {
				return "", err
			}
			return sid + ":" + hex.EncodeToString(sig), nil
		},
		Exclude: n.networkHosts(),
		Logger:  n.logger,
	})
}

// networkHosts are the addresses of the network's services, which must stay
// reachable outside the tunnel.
func (n *Node) networkHosts() []netip.Addr {
	urls := append([]string{n.cfg.Network.EtherRPCURL, n.cfg.Network.DiscoveryURL}, n.cfg.Network.BrokerURLs...)
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
