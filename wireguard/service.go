// Package wireguard is the wireguard service type: wireguard-go inside the
// daemon on a TUN interface, one device and UDP port per provider service
// and a peer per session (the consumer's fresh key, allowed only its /32),
// and on the consumer a device per connection with all traffic routed
// through it except the provider's endpoint and the network's own hosts.
package wireguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mystnode/myst/forward"
	"github.com/mystnode/myst/session"
	"golang.zx2c4.com/wireguard/conn"
)

// Type is the wireguard service type.
var Type = session.Type{
	Name:            "wireguard",
	Tunnel:          true,
	DefaultPort:     51820,
	DefaultSubnet:   netip.MustParsePrefix("10.89.0.0/16"),
	Provide:         provide,
	Connector:       newConnector,
	ClientInterface: "mwgc",
	Punches:         true,
	Relays:          true,
}

// ConsumerConfig is what a consumer sends in session-create.
type ConsumerConfig struct {
	PublicKey string `json:"public_key"`
	// Candidates are the consumer's public address:port as STUN saw its
	// device's port (at most MaxCandidates); a provider behind a cone NAT
	// punches to them.
	Candidates []string `json:"candidates,omitempty"`
	// Relay: the consumer sends through the provider's relayed address
	// (it has no direct path); the provider lets the candidates' addresses
	// through the relay.
	Relay bool `json:"relay,omitempty"`
	// Upgrade: the consumer starts through the relay and moves to the
	// direct path once its probes there are answered (the pair could
	// punch); the provider punches to the first candidate and answers
	// with its direct endpoint too.
	Upgrade bool `json:"upgrade,omitempty"`
}

// ProviderConfig is what the provider answers.
type ProviderConfig struct {
	PublicKey string `json:"public_key"`
	Endpoint  string `json:"endpoint"` // ip:port
	Address   string `json:"address"`  // the consumer's tunnel address, /32
	DNS       string `json:"dns"`      // the provider's tunnel address
	// Path is how Endpoint reaches the provider: "direct", "punched"
	// (direct, through the provider's NAT opened by punching) or
	// "relayed".
	Path string `json:"path,omitempty"`
	// Direct, for a consumer that asked to upgrade, is the provider's
	// direct endpoint (ip:port) to probe and move to.
	Direct string `json:"direct,omitempty"`
}

// The paths a session takes.
const (
	PathDirect  = "direct"
	PathPunched = "punched"
	PathRelayed = "relayed"
)

// KeepaliveEvery is how often each side sends a keepalive when it has
// nothing else to send, so the other notices when it is gone.
const KeepaliveEvery = 5 * time.Second

// provisioner is a provider's wireguard service.
type provisioner struct {
	dev      *wgDevice
	dir      string
	pub      Key
	endpoint netip.AddrPort
	subnet   netip.Prefix
	port     int             // the device's local port
	punch    bool            // behind a cone NAT: punch to consumers' candidates
	shaper   *forward.Shaper // nil: sessions are not rate-limited
	relay    session.Relay   // nil: no relay allocation
	bind     *pathBind       // with a relay: its paths to consumers
	logger   *slog.Logger

	mu       sync.Mutex
	sessions map[string]*peer // by session id
	keys     map[Key]string   // session id by consumer key
}

type peer struct {
	key     Key
	addr    netip.Addr
	permits []netip.Addr   // the consumer's addresses let through the relay
	config  ProviderConfig // what the consumer was told
	dual    *dualEndpoint  // relayed, moving to direct when probes pass; nil: one path
}

func provide(_ context.Context, env session.ProvideEnv) (session.Provisioner, error) {
	if !env.PublicIP.IsValid() {
		return nil, errors.New("no public address: pass --public-ip")
	}
	if !env.Subnet.IsValid() || env.Subnet.Bits() > 30 {
		return nil, fmt.Errorf("tunnel subnet %v: want /30 or larger", env.Subnet)
	}
	if err := os.MkdirAll(env.Dir, 0o700); err != nil {
		return nil, err
	}
	key, err := NewPrivateKey()
	if err != nil {
		return nil, err
	}
	name := "mwg" + strings.ReplaceAll(env.ServiceID, "-", "")
	if len(name) > 15 {
		name = name[:15]
	}
	var bind conn.Bind
	var pb *pathBind
	if env.Relay != nil {
		pb = newPathBind(env.Relay, env.Logger)
		bind = pb
	}
	dev, err := newDevice(name, key, env.Port, bind, env.Logger)
	if err != nil {
		if pb != nil {
			pb.shutdown()
		}
		return nil, err
	}
	fail := func(err error) (session.Provisioner, error) {
		dev.close()
		return nil, err
	}
	port, err := dev.port()
	if err != nil {
		return fail(err)
	}
	gw := env.Subnet.Masked().Addr().Next()
	if err := ip("addr", "add", netip.PrefixFrom(gw, env.Subnet.Bits()).String(), "dev", name); err != nil {
		return fail(err)
	}
	if err := ip("link", "set", name, "up"); err != nil {
		return fail(err)
	}
	var shaper *forward.Shaper
	if env.SessionMbit > 0 {
		if shaper, err = forward.NewShaper(name, env.SessionMbit); err != nil {
			return fail(fmt.Errorf("limit sessions to %g Mbit/s: %w", env.SessionMbit, err))
		}
	}
	env.Logger.Info("wireguard service running", "interface", name, "port", port, "subnet", env.Subnet, "tun_offloads", dev.batch > 1, "session_mbit", env.SessionMbit)
	public := env.PublicPort
	if public == 0 {
		public = port
	}
	return &provisioner{dev: dev, dir: env.Dir, pub: key.Public(), endpoint: netip.AddrPortFrom(env.PublicIP, uint16(public)), subnet: env.Subnet.Masked(),
		port: port, punch: env.Punch, shaper: shaper, relay: env.Relay, bind: pb, logger: env.Logger, sessions: map[string]*peer{}, keys: map[Key]string{}}, nil
}

// parsedConsumer is a consumer's config, parsed.
type parsedConsumer struct {
	key     Key
	cands   []netip.AddrPort
	relay   bool
	upgrade bool
}

// parseConsumerConfig reads what a consumer sent in session-create: its
// key, the candidates to punch to (none in tunnel) and whether it goes
// through the relay.
func parseConsumerConfig(raw []byte, tunnel netip.Prefix) (parsedConsumer, error) {
	var cc ConsumerConfig
	if err := json.Unmarshal(raw, &cc); err != nil {
		return parsedConsumer{}, fmt.Errorf("consumer's wireguard config: %v", err)
	}
	key, err := ParseKey(cc.PublicKey)
	if err != nil {
		return parsedConsumer{}, fmt.Errorf("consumer's wireguard config: public_key: %v", err)
	}
	cands, err := checkCandidates(cc.Candidates, tunnel)
	if err != nil {
		return parsedConsumer{}, fmt.Errorf("consumer's wireguard config: %v", err)
	}
	return parsedConsumer{key: key, cands: cands, relay: cc.Relay, upgrade: cc.Relay && cc.Upgrade}, nil
}

// Start adds the consumer's key as a peer allowed only its tunnel address.
func (p *provisioner) Start(_ context.Context, s session.Info, raw json.RawMessage) (json.RawMessage, error) {
	cc, err := parseConsumerConfig(raw, p.subnet)
	if err != nil {
		return nil, err
	}
	key, cands := cc.key, cc.cands
	endpoint, path := p.endpoint, PathDirect
	var permits []netip.Addr
	if cc.relay {
		switch {
		case p.relay == nil:
			return nil, errors.New("this provider has no relay allocation: connect directly, or choose a provider whose proposal has a relay")
		case len(cands) == 0:
			return nil, errors.New("the consumer asks for the relay but sends no public address (candidates) for the relay's permission")
		}
		for _, c := range cands {
			if !slices.Contains(permits, c.Addr()) {
				permits = append(permits, c.Addr())
			}
		}
		if err := p.relay.Permit(permits...); err != nil {
			return nil, fmt.Errorf("let the consumer through the relay: %w", err)
		}
		endpoint, path = p.relay.Addr(), PathRelayed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, used := p.keys[key]; used {
		return nil, errors.New("the consumer's WireGuard key is already used by a live session: make a fresh key per session")
	}
	addr, err := p.freeAddr()
	if err != nil {
		return nil, err
	}
	if err := p.dev.set(fmt.Sprintf("public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s/32\npersistent_keepalive_interval=%d\n",
		key.hex(), addr, int(KeepaliveEvery/time.Second))); err != nil {
		return nil, fmt.Errorf("add the WireGuard peer: %w", err)
	}
	if p.shaper != nil {
		if err := p.shaper.Limit(addr); err != nil {
			p.dev.set(fmt.Sprintf("public_key=%s\nremove=true\n", key.hex()))
			return nil, fmt.Errorf("limit the session's rate: %w", err)
		}
	}
	pr := &peer{key: key, addr: addr, permits: permits}
	p.sessions[s.ID] = pr
	p.keys[key] = s.ID
	direct := ""
	if cc.upgrade && p.punch && p.bind != nil && len(cands) > 0 {
		// Relayed now, direct once the consumer's probes get through: one
		// endpoint for both paths, keyed by the consumer's public address
		// (the same on both through a cone NAT).
		c, id := cands[0], s.ID
		pr.dual = p.bind.addDual(c, c, true, false, func(up bool) {
			p.logger.Info("session path", "session", id, "direct", up, "consumer", c)
		})
		direct = p.endpoint.String()
	}
	if p.punch && len(cands) > 0 && (!cc.relay || pr.dual != nil) {
		if !cc.relay {
			path = PathPunched
		}
		// Open this NAT for the consumer's packets before it has the
		// answer (and once more a moment later).
		if err := punch(p.port, cands); err != nil {
			p.logger.Warn("punching to the consumer failed", "session", s.ID, "candidates", cands, "err", err)
		}
		for _, after := range PunchAgain {
			time.AfterFunc(after, func() { punch(p.port, cands) })
		}
	}
	gw := p.subnet.Addr().Next()
	pr.config = ProviderConfig{PublicKey: p.pub.String(), Endpoint: endpoint.String(), Address: netip.PrefixFrom(addr, 32).String(), DNS: gw.String(), Path: path, Direct: direct}
	return json.Marshal(rogueConfig(pr.config))
}

// SetEndpoint changes where new sessions are told to send (the node's
// public address moved).
func (p *provisioner) SetEndpoint(ep netip.AddrPort) {
	p.mu.Lock()
	p.endpoint = ep
	p.mu.Unlock()
}

// Moved is a relayed session's config with the relay's current address,
// when it moved (the allocation was made again).
func (p *provisioner) Moved(sessionID string) (json.RawMessage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.sessions[sessionID]
	if pr == nil || pr.config.Path != PathRelayed || p.relay == nil || pr.config.Endpoint == p.relay.Addr().String() {
		return nil, false
	}
	pr.config.Endpoint = p.relay.Addr().String()
	b, err := json.Marshal(pr.config)
	return b, err == nil
}

// permitted says whether a live session's consumer is at ip (behind the
// same NAT as another, say): its relay permission stays.
func (p *provisioner) permitted(ip netip.Addr) bool {
	for _, s := range p.sessions {
		if slices.Contains(s.permits, ip) {
			return true
		}
	}
	return false
}

// freeAddr is the lowest tunnel address no session holds (the first is the
// provider's).
func (p *provisioner) freeAddr() (netip.Addr, error) {
	used := map[netip.Addr]bool{}
	for _, s := range p.sessions {
		used[s.addr] = true
	}
	a := p.subnet.Addr().Next().Next()
	for ; p.subnet.Contains(a); a = a.Next() {
		if !p.subnet.Contains(a.Next()) {
			break // the broadcast address
		}
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free tunnel address in %s", p.subnet)
}

// Stop removes the session's peer: its key gets nothing from then on.
func (p *provisioner) Stop(s session.Info) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.sessions[s.ID]
	if pr == nil {
		return
	}
	delete(p.sessions, s.ID)
	delete(p.keys, pr.key)
	if p.shaper != nil {
		p.shaper.Unlimit(pr.addr)
	}
	for _, ip := range pr.permits {
		if !p.permitted(ip) {
			p.relay.Forget(ip)
		}
	}
	if pr.dual != nil {
		p.bind.removeDual(pr.dual)
	}
	p.dev.set(fmt.Sprintf("public_key=%s\nremove=true\n", pr.key.hex()))
}

// Pause takes the peer's tunnel address away (nothing is forwarded from or
// to it; its handshakes and keepalives go on) or gives it back.
func (p *provisioner) Pause(sessionID string, paused bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.sessions[sessionID]
	if pr == nil {
		return fmt.Errorf("no session %s", sessionID)
	}
	allowed := fmt.Sprintf("allowed_ip=%s/32\n", pr.addr)
	if paused {
		allowed = ""
	}
	if err := p.dev.set(fmt.Sprintf("public_key=%s\nupdate_only=true\nreplace_allowed_ips=true\n%s", pr.key.hex(), allowed)); err != nil {
		return fmt.Errorf("set the WireGuard peer's addresses: %w", err)
	}
	return nil
}

// Bytes are the peer's counters: from the consumer, to the consumer.
func (p *provisioner) Bytes(sessionID string) (in, out uint64) {
	p.mu.Lock()
	pr := p.sessions[sessionID]
	p.mu.Unlock()
	if pr == nil {
		return 0, 0
	}
	st, err := p.dev.get()
	if err != nil {
		return 0, 0
	}
	ps := st.peers[pr.key]
	return ps.rx, ps.tx
}

// Close removes the device and its interface.
func (p *provisioner) Close() error {
	p.dev.close()
	if p.shaper != nil {
		p.shaper.Close()
	}
	return os.RemoveAll(p.dir)
}
