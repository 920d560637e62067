package session

import (
	"fmt"
	"net"
	"net/netip"
)

// TunnelConfig is what a provider chose for a consumer's side of a tunnel:
// the consumer checks it (CheckTunnel) before it changes anything.
type TunnelConfig struct {
	Address netip.Prefix // the consumer's tunnel address and prefix
	DNS     netip.Addr   // the provider's resolver (invalid: none)
	MTU     int          // 0: not set by the provider
	// Keep are addresses the consumer reaches outside the tunnel: the
	// provider's endpoint and the network's hosts.
	Keep []netip.Addr
}

// MTU bounds: IPv6's minimum (so that any payload fits), and Ethernet's.
const (
	MinMTU = 1280
	MaxMTU = 1500
)

var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("240.0.0.0/4"),
}

// LocalNetworks are the IPv4 networks this host's interfaces are on,
// except skip's (the tunnel's own, when it exists already).
func LocalNetworks(skip string) ([]netip.Prefix, error) {
	ifcs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, ifc := range ifcs {
		if ifc.Name == skip || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok || !ip.Unmap().Is4() {
				continue
			}
			ones, _ := n.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones).Masked())
		}
	}
	return out, nil
}

// CheckTunnel refuses a tunnel config a provider could use against the
// consumer: an address that overlaps a network the consumer is on (a
// more specific prefix than its home LAN pulls the LAN into the tunnel; a
// /32 equal to its router disrupts the LAN) or holds the provider's
// endpoint; a special address; a prefix wider than /16; a resolver
// outside the tunnel's reach (on the consumer's LAN or its loopback,
// where DNS would leave outside the tunnel); an MTU out of 1280–1500.
// local are the consumer's networks (LocalNetworks). The error names the
// field and the reason.
func CheckTunnel(c TunnelConfig, local []netip.Prefix) error {
	a := c.Address
	if !a.IsValid() || !a.Addr().Is4() {
		return fmt.Errorf("address %v: want an IPv4 address", a)
	}
	if a.Bits() < 16 {
		return fmt.Errorf("address %v: a prefix wider than /16 would take over too much of the address space", a)
	}
	if a.Masked().Addr() == a.Addr() && a.Bits() < 31 || a.Bits() < 31 && a.Addr() == lastAddr(a) {
		return fmt.Errorf("address %v: the network or broadcast address of its prefix", a)
	}
	for _, s := range special {
		if s.Contains(a.Addr()) {
			return fmt.Errorf("address %v: in %v, which is not for tunnels", a, s)
		}
	}
	for _, n := range local {
		if n.Overlaps(a) {
			return fmt.Errorf("address %v: overlaps %v, a network this host is on: the provider would capture or disrupt it", a, n)
		}
	}
	for _, k := range c.Keep {
		if a.Contains(k) {
			return fmt.Errorf("address %v: holds %v, which this host reaches outside the tunnel (the provider's endpoint or the network's hosts)", a, k)
		}
	}
	if c.DNS.IsValid() {
		d := c.DNS.Unmap()
		if !d.Is4() {
			return fmt.Errorf("dns %v: want an IPv4 address", d)
		}
		for _, s := range special {
			if s.Contains(d) {
				return fmt.Errorf("dns %v: in %v: names would be looked up outside the tunnel", d, s)
			}
		}
		for _, n := range local {
			if n.Contains(d) {
				return fmt.Errorf("dns %v: on %v, a network this host is on: names would be looked up outside the tunnel", d, n)
			}
		}
		for _, k := range c.Keep {
			if d == k {
				return fmt.Errorf("dns %v: reached outside the tunnel", d)
			}
		}
	}
	if c.MTU != 0 && (c.MTU < MinMTU || c.MTU > MaxMTU) {
		return fmt.Errorf("mtu %d: want %d to %d", c.MTU, MinMTU, MaxMTU)
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
