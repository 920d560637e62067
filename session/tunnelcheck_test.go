package session

import (
	"net/netip"
	"strings"
	"testing"
)

// TestCheckTunnelRefusesHostileConfigs: each config a malicious provider
// could send to turn the tunnel against the consumer is refused, naming
// the field and the reason; a sane one passes.
func TestCheckTunnelRefusesHostileConfigs(t *testing.T) {
	home := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("10.0.5.0/24")}
	endpoint := netip.MustParseAddr("203.0.113.9")
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	sane := TunnelConfig{Address: p("10.89.0.2/32"), DNS: a("10.89.0.1"), Keep: []netip.Addr{endpoint}}
	if err := CheckTunnel(sane, home); err != nil {
		t.Fatalf("sane config refused: %v", err)
	}
	ovpn := TunnelConfig{Address: p("10.88.0.2/24"), DNS: a("10.88.0.1"), MTU: 1500, Keep: []netip.Addr{endpoint}}
	if err := CheckTunnel(ovpn, home); err != nil {
		t.Fatalf("sane openvpn config refused: %v", err)
	}
	for _, c := range []struct {
		what string
		mod  func(*TunnelConfig)
		want string
	}{
		{"more specific than the home LAN", func(c *TunnelConfig) { c.Address = p("192.168.1.130/25") }, "address 192.168.1.130/25: overlaps 192.168.1.0/24"},
		{"the home router", func(c *TunnelConfig) { c.Address = p("192.168.1.1/32") }, "overlaps 192.168.1.0/24"},
		{"a prefix holding the LAN", func(c *TunnelConfig) { c.Address = p("10.0.0.2/16") }, "overlaps 10.0.5.0/24"},
		{"wider than /16", func(c *TunnelConfig) { c.Address = p("44.0.0.2/8") }, "wider than /16"},
		{"the provider's endpoint inside", func(c *TunnelConfig) { c.Address = p("203.0.113.2/24") }, "holds 203.0.113.9"},
		{"loopback", func(c *TunnelConfig) { c.Address = p("127.0.0.2/32") }, "not for tunnels"},
		{"link-local", func(c *TunnelConfig) { c.Address = p("169.254.1.1/32") }, "not for tunnels"},
		{"multicast", func(c *TunnelConfig) { c.Address = p("224.0.0.5/32") }, "not for tunnels"},
		{"network address", func(c *TunnelConfig) { c.Address = p("10.88.0.0/24") }, "network or broadcast"},
		{"broadcast address", func(c *TunnelConfig) { c.Address = p("10.88.0.255/24") }, "network or broadcast"},
		{"IPv6", func(c *TunnelConfig) { c.Address = p("fd00::2/128") }, "want an IPv4"},
		{"DNS on the home LAN", func(c *TunnelConfig) { c.DNS = a("192.168.1.1") }, "dns 192.168.1.1: on 192.168.1.0/24"},
		{"DNS on loopback", func(c *TunnelConfig) { c.DNS = a("127.0.0.53") }, "dns 127.0.0.53"},
		{"DNS at the endpoint", func(c *TunnelConfig) { c.DNS = endpoint }, "outside the tunnel"},
		{"tiny MTU", func(c *TunnelConfig) { c.MTU = 576 }, "mtu 576"},
		{"huge MTU", func(c *TunnelConfig) { c.MTU = 9000 }, "mtu 9000"},
	} {
		cfg := ovpn
		c.mod(&cfg)
		err := CheckTunnel(cfg, home)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.what, err, c.want)
		}
	}
}
