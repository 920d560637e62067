package session

import (
	"fmt"
	"net/netip"
)

// MaxCandidates bounds the public addresses a consumer names in its
// config (where a punching provider sends, or what a relayed one lets
// through its relay).
const MaxCandidates = 4

// Candidates parses a consumer's candidates: IPv4 address:port, no
// loopback, multicast, broadcast, link-local, unspecified or tunnel
// address, at most MaxCandidates. A peer naming others' addresses gets
// two small packets sent there at most, or a relay permission for them
// (amplification is nil).
func Candidates(in []string, tunnel netip.Prefix) ([]netip.AddrPort, error) {
	if len(in) > MaxCandidates {
		return nil, fmt.Errorf("candidates: %d given, at most %d", len(in), MaxCandidates)
	}
	var out []netip.AddrPort
	for _, c := range in {
		ap, err := netip.ParseAddrPort(c)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return nil, fmt.Errorf("candidates: %q is not an IPv4 address:port", c)
		}
		a := ap.Addr()
		if a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || tunnel.Contains(a) {
			return nil, fmt.Errorf("candidates: %s is not an address to send to", a)
		}
		out = append(out, ap)
	}
	return out, nil
}

// Permits are the distinct addresses of candidates: what a relayed
// provider lets through its relay.
func Permits(cands []netip.AddrPort) []netip.Addr {
	var out []netip.Addr
	for _, c := range cands {
		if a := c.Addr(); !containsAddr(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}
