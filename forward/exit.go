package forward

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Protected are the ranges no consumer reaches through a provider unless
// its operator allows one (--exit-allow): private and shared networks
// (home LANs, carrier NAT), link-local (cloud metadata at 169.254.169.254),
// loopback, "this network", multicast and reserved.
var Protected = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// DefaultBlockedPorts are destination ports refused by default: outbound
// mail (SMTP), whose abuse gets a provider's address blocklisted.
var DefaultBlockedPorts = []uint16{25}

// HostPort is a port the provider host answers consumers on, at the
// tunnel's gateway address.
type HostPort struct {
	Proto string // "udp" or "tcp"
	Port  uint16
}

// Exit is what the consumers of one tunnel subnet may reach: the internet
// through Uplink, and nothing of the provider's own: not its host (but
// HostPorts on Gateway), not its networks, not each other.
type Exit struct {
	Uplink    string
	Gateway   netip.Addr // the provider's address in the tunnel subnet
	HostPorts []HostPort
	// Refuse are destinations refused (Protected, the uplink's subnets,
	// every tunnel subnet of the node); Allow are let through even so.
	Refuse     []netip.Prefix
	Allow      []netip.Prefix
	BlockPorts []uint16 // destination ports refused, TCP and UDP
}

// Refused is what an exit refuses by default on a node whose uplink is
// uplink and whose tunnel subnets are within tunnels: Protected, the
// networks the uplink is connected to, and the tunnels themselves.
func Refused(uplink string, tunnels []netip.Prefix) ([]netip.Prefix, error) {
	out := slices.Clone(Protected)
	ifc, err := net.InterfaceByName(uplink)
	if err != nil {
		return nil, fmt.Errorf("uplink %s: %w", uplink, err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return nil, fmt.Errorf("uplink %s: %w", uplink, err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok || !ip.Unmap().Is4() {
			continue // tunnels carry IPv4 only
		}
		ones, _ := n.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones).Masked())
	}
	for _, t := range tunnels {
		out = append(out, t.Masked())
	}
	return out, nil
}

// ParsePorts reads a list of ports like "25,465,587".
func ParsePorts(s string) ([]uint16, error) {
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := strconv.ParseUint(f, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("port %q: want a number from 1 to 65535", f)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}

// exitRules are the iptables rules of one tunnel subnet, in the order they
// must be matched (Add inserts them at the head of their chains, before
// rules of other software that would accept the traffic).
func exitRules(subnet netip.Prefix, e Exit, tag string) [][]string {
	s := subnet.Masked().String()
	c := []string{"-m", "comment", "--comment", tag}
	rule := func(table, chain string, args ...string) []string {
		r := append([]string{"-t", table, chain}, args...)
		// The comment goes before the target.
		i := slices.Index(r, "-j")
		return append(append(slices.Clone(r[:i]), c...), r[i:]...)
	}
	var out [][]string
	out = append(out, rule("nat", "POSTROUTING", "-s", s, "-o", e.Uplink, "-j", "MASQUERADE"))
	for _, a := range e.Allow {
		out = append(out, rule("nat", "POSTROUTING", "-s", s, "-d", a.String(), "-j", "MASQUERADE"))
	}
	// Out of the tunnel: blocked ports, then what is allowed, then what is
	// refused, then the uplink; nothing else.
	for ports := range slices.Chunk(e.BlockPorts, 15) { // multiport's limit
		var list []string
		for _, p := range ports {
			list = append(list, strconv.Itoa(int(p)))
		}
		ls := strings.Join(list, ",")
		out = append(out,
			rule("filter", "FORWARD", "-s", s, "-p", "tcp", "-m", "multiport", "--dports", ls, "-j", "REJECT", "--reject-with", "tcp-reset"),
			rule("filter", "FORWARD", "-s", s, "-p", "udp", "-m", "multiport", "--dports", ls, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"))
	}
	for _, a := range e.Allow {
		out = append(out, rule("filter", "FORWARD", "-s", s, "-d", a.String(), "-j", "ACCEPT"))
	}
	for _, r := range e.Refuse {
		out = append(out, rule("filter", "FORWARD", "-s", s, "-d", r.String(), "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"))
	}
	out = append(out,
		rule("filter", "FORWARD", "-s", s, "-o", e.Uplink, "-j", "ACCEPT"),
		rule("filter", "FORWARD", "-s", s, "-j", "DROP"),
		// Into the tunnel: answers only.
		rule("filter", "FORWARD", "-d", s, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"),
		rule("filter", "FORWARD", "-d", s, "-j", "DROP"))
	// To the host itself, on any of its addresses: the host ports on the
	// gateway, answers to what the host sent, nothing else.
	for _, hp := range e.HostPorts {
		out = append(out, rule("filter", "INPUT", "-s", s, "-d", e.Gateway.String(), "-p", hp.Proto, "--dport", strconv.Itoa(int(hp.Port)), "-j", "ACCEPT"))
	}
	out = append(out,
		rule("filter", "INPUT", "-s", s, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"),
		rule("filter", "INPUT", "-s", s, "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"))
	return out
}
