package openvpn

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/syscmd"
)

// ClientOptions configure a consumer's client.
type ClientOptions struct {
	Dir      string // runtime files; created 0700
	Binary   string // default "openvpn"
	Username string // the consumer's identity
	// Password returns what proves the consumer holds the session: the
	// session id and the identity's signature over it.
	Password func(sessionID string) (string, error)
	// Exclude lists hosts that stay outside the tunnel (broker, chain RPC,
	// discovery), besides the provider's own address; ExcludeNets the
	// networks the user keeps outside (split tunnelling).
	Exclude     []netip.Addr
	ExcludeNets []netip.Prefix
	// OnlyNets, instead, are the only networks through the tunnel (with
	// the provider's DNS address): the provider's redirect-gateway is not
	// taken.
	OnlyNets []netip.Prefix
	// Relay: the connection goes through the provider's relayed address;
	// STUN's first server (the relay) tells this node its public address.
	Relay  bool
	STUN   []netip.AddrPort
	Logger *slog.Logger
}

// Client is the consumer's openvpn client; it is a session.Connector.
type Client struct {
	opts ClientOptions

	mu        sync.Mutex
	proc      *process
	mgmt      *mgmt
	iface     string
	sessionID string
	tunnelIP  string
	bytesIn   uint64
	bytesOut  uint64
	connected chan struct{}
	authFail  chan struct{}
	down      chan struct{} // closed when the tunnel goes down after being up
	downOnce  sync.Once
	up        bool
}

// NewClient makes a client; Connect starts it.
func NewClient(opts ClientOptions) *Client {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{opts: opts}
}

// ParseClientConfig checks a provider's config.
func ParseClientConfig(raw []byte) (ClientConfig, error) {
	var c ClientConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("provider's openvpn config: %w", err)
	}
	if _, err := netip.ParseAddr(c.Remote); err != nil {
		return c, fmt.Errorf("provider's openvpn config: remote %q is not an IP address", c.Remote)
	}
	if c.Port < 1 || c.Port > 65535 {
		return c, fmt.Errorf("provider's openvpn config: port %d", c.Port)
	}
	if c.Proto != "udp" {
		return c, fmt.Errorf("provider's openvpn config: proto %q, want udp", c.Proto)
	}
	if c.Cipher != Cipher {
		return c, fmt.Errorf("provider's openvpn config: cipher %q, want %s", c.Cipher, Cipher)
	}
	block, _ := pem.Decode([]byte(c.CACert))
	if block == nil {
		return c, errors.New("provider's openvpn config: no CA certificate")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return c, fmt.Errorf("provider's openvpn config: CA certificate: %w", err)
	}
	if !strings.Contains(c.TLSCryptKey, "BEGIN OpenVPN Static key V1") {
		return c, errors.New("provider's openvpn config: no tls-crypt key")
	}
	return c, nil
}

// Connect brings the tunnel up and returns once openvpn reports CONNECTED.
func (c *Client) Connect(ctx context.Context, sessionID string, raw json.RawMessage) error {
	cfg, err := ParseClientConfig(raw)
	if err != nil {
		return err
	}
	bin, err := FindBinary(c.opts.Binary)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.opts.Dir, 0o700); err != nil {
		return err
	}
	for name, data := range map[string]string{"ca.crt": cfg.CACert, "tls-crypt.key": cfg.TLSCryptKey} {
		if err := os.WriteFile(filepath.Join(c.opts.Dir, name), []byte(data), 0o600); err != nil {
			return err
		}
	}
	iface := Type.ClientInterface + randomHex(4)
	lines := []string{
		"client",
		"dev " + iface,
		"dev-type tun",
		"proto udp4",
		fmt.Sprintf("remote %s %d", cfg.Remote, cfg.Port),
		"nobind",
		"ca ca.crt",
		"tls-crypt tls-crypt.key",
		"remote-cert-tls server",
		"tls-version-min 1.2",
		"data-ciphers " + Cipher,
		"auth-user-pass",
		"auth-nocache",
		"auth-retry none",
		"disable-dco",
		"management-query-passwords",
		"management-hold",
		// Leave when the provider goes quiet instead of retrying forever.
		"ping-exit 12",
		"connect-retry-max 1",
		"connect-timeout 10",
		"verb 3",
	}
	// Only the pushed options a myst tunnel needs are taken (no routes,
	// DNS options or scripts a provider might push).
	if len(c.opts.OnlyNets) > 0 {
		lines = append(lines, `pull-filter ignore "redirect-gateway"`) // first match wins
		nets := c.opts.OnlyNets
		if dns, err := netip.ParseAddr(cfg.DNS); err == nil && dns.Is4() {
			nets = append(slices.Clone(nets), netip.PrefixFrom(dns, 32))
		}
		for _, p := range nets {
			m := net.CIDRMask(p.Bits(), 32)
			lines = append(lines, fmt.Sprintf("route %s %d.%d.%d.%d vpn_gateway", p.Masked().Addr(), m[0], m[1], m[2], m[3]))
		}
	}
	lines = append(lines, pullFilter()...)
	remote, _ := netip.ParseAddr(cfg.Remote)
	for _, a := range c.opts.Exclude {
		if a.Is4() && a != remote && !a.IsLoopback() {
			lines = append(lines, fmt.Sprintf("route %s 255.255.255.255 net_gateway", a))
		}
	}
	for _, p := range c.opts.ExcludeNets {
		if p.Addr().Is4() {
			m := net.CIDRMask(p.Bits(), 32)
			lines = append(lines, fmt.Sprintf("route %s %d.%d.%d.%d net_gateway", p.Masked().Addr(), m[0], m[1], m[2], m[3]))
		}
	}
	c.mu.Lock()
	c.sessionID = sessionID
	c.connected, c.authFail, c.down = make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.downOnce = sync.Once{}
	c.up = false
	c.mu.Unlock()
	p, err := startProcess(ctx, bin, c.opts.Dir, "client.conf", lines, c.notify)
	if err != nil {
		return fmt.Errorf("openvpn client: %w", err)
	}
	c.mu.Lock()
	c.proc, c.mgmt, c.iface = p, p.mgmt, iface
	c.mu.Unlock()
	go func() {
		<-p.exited
		c.markDown()
	}()
	fail := func(err error) error {
		// openvpn's log goes with the folder Disconnect removes: read first.
		err = p.explain(err)
		c.Disconnect()
		return err
	}
	m, exited := p.mgmt, p.exited
	for _, cmd := range []string{"state on", "bytecount 1", "hold release"} {
		if _, err := m.command(cmd); err != nil {
			return fail(err)
		}
	}
	select {
	case <-c.connected:
		if err := c.checkTunnel(cfg); err != nil {
			return fail(fmt.Errorf("provider's openvpn config refused: %w", err))
		}
		return nil
	case <-c.authFail:
		return fail(errors.New("the provider refused the tunnel's credentials"))
	case <-exited:
		// openvpn exits on AUTH_FAILED: the management line saying so may
		// be read a moment after the exit is seen.
		select {
		case <-c.authFail:
			return fail(errors.New("the provider refused the tunnel's credentials"))
		case <-time.After(300 * time.Millisecond):
		}
		return fail(errors.New("openvpn exited before connecting"))
	case <-ctx.Done():
		return fail(fmt.Errorf("tunnel not up in time: %w", ctx.Err()))
	}
}

// checkTunnel checks what the provider pushed, as openvpn applied it: the
// tunnel's address and prefix, its MTU, and that the internet's route
// leaves through it (route-gateway); see session.CheckTunnel. A tunnel
// that fails is taken down at once, and openvpn's exit restores the
// routes.
func (c *Client) checkTunnel(cfg ClientConfig) error {
	c.mu.Lock()
	iface := c.iface
	c.mu.Unlock()
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("tunnel interface %s: %w", iface, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return err
	}
	var tunnel netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			ip, _ := netip.AddrFromSlice(n.IP.To4())
			ones, _ := n.Mask.Size()
			tunnel = netip.PrefixFrom(ip, ones)
		}
	}
	local, err := session.LocalNetworks(iface)
	if err != nil {
		return err
	}
	dns, _ := netip.ParseAddr(cfg.DNS)
	remote, _ := netip.ParseAddr(cfg.Remote)
	if err := session.CheckTunnel(session.TunnelConfig{Address: tunnel, DNS: dns, MTU: ifc.MTU, Keep: append([]netip.Addr{remote}, c.opts.Exclude...)}, local); err != nil {
		return err
	}
	// The internet (or, with --only, the first network asked) goes
	// through the tunnel, not a gateway the provider named on this host's
	// LAN.
	probe := netip.MustParseAddr("198.51.100.1")
	if len(c.opts.OnlyNets) > 0 {
		probe = c.opts.OnlyNets[0].Masked().Addr()
	}
	r, err := syscmd.RouteTo(probe)
	if err != nil {
		return err
	}
	if r.Dev != iface {
		return fmt.Errorf("route-gateway: the route to %s leaves through %q, not the tunnel %s", probe, r.Dev, iface)
	}
	return nil
}

func (c *Client) markDown() {
	c.mu.Lock()
	up, down := c.up, c.down
	c.mu.Unlock()
	if up {
		c.downOnce.Do(func() { close(down) })
	}
}

func (c *Client) notify(line string) {
	switch {
	case strings.HasPrefix(line, ">PASSWORD:Need 'Auth'"):
		c.mu.Lock()
		sid, m := c.sessionID, c.mgmt
		c.mu.Unlock()
		pw, err := c.opts.Password(sid)
		if err != nil || m == nil {
			c.opts.Logger.Warn("openvpn password", "err", err)
			return
		}
		m.command(fmt.Sprintf("username %s %s", quote("Auth"), quote(c.opts.Username)))
		m.command(fmt.Sprintf("password %s %s", quote("Auth"), quote(pw)))
	case strings.HasPrefix(line, ">PASSWORD:Verification Failed"):
		c.mu.Lock()
		ch := c.authFail
		c.mu.Unlock()
		select {
		case <-ch:
		default:
			close(ch)
		}
	case strings.HasPrefix(line, ">STATE:"):
		f := strings.Split(strings.TrimPrefix(line, ">STATE:"), ",")
		if len(f) < 2 {
			return
		}
		switch f[1] {
		case "CONNECTED":
			c.mu.Lock()
			if len(f) > 3 {
				c.tunnelIP = f[3]
			}
			wasUp := c.up
			c.up = true
			ch := c.connected
			c.mu.Unlock()
			if !wasUp {
				close(ch)
			}
		case "RECONNECTING", "EXITING":
			c.markDown()
		}
	case strings.HasPrefix(line, ">BYTECOUNT:"):
		f := strings.Split(strings.TrimPrefix(line, ">BYTECOUNT:"), ",")
		if len(f) == 2 {
			in, _ := strconv.ParseUint(f[0], 10, 64)
			out, _ := strconv.ParseUint(f[1], 10, 64)
			c.mu.Lock()
			c.bytesIn, c.bytesOut = in, out
			c.mu.Unlock()
		}
	}
}

// Down is closed when an established tunnel goes down on its own.
func (c *Client) Down() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.down
}

// Stats returns bytes received and sent through the tunnel and its address.
func (c *Client) Stats() session.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return session.Stats{BytesIn: c.bytesIn, BytesOut: c.bytesOut, TunnelIP: c.tunnelIP, Interface: c.iface}
}

// Disconnect stops openvpn, which removes the routes it added.
func (c *Client) Disconnect() {
	c.mu.Lock()
	p := c.proc
	c.up = false
	c.proc, c.mgmt = nil, nil
	c.mu.Unlock()
	if p != nil {
		p.stop()
		// The provider's CA and tls-crypt key and the credentials file.
		os.RemoveAll(c.opts.Dir)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
