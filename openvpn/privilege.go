package openvpn

import (
	"net/netip"
	"os/exec"
	"os/user"
	"strings"
)

// Unprivileged is the user and group openvpn runs as once its tunnel
// device, keys and management socket are set up (it parses its peer's
// packets for the whole session).
const (
	UnprivilegedUser  = "nobody"
	UnprivilegedGroup = "nogroup"
)

// dropPrivileges are the config lines that make openvpn switch to the
// unprivileged user and group after start, if both exist on this host.
func dropPrivileges() []string {
	if _, err := user.Lookup(UnprivilegedUser); err != nil {
		return nil
	}
	if _, err := user.LookupGroup(UnprivilegedGroup); err != nil {
		return nil
	}
	return []string{"user " + UnprivilegedUser, "group " + UnprivilegedGroup, "persist-key", "persist-tun"}
}

// pulled are the options a consumer takes from what the provider pushes
// (prefixes, as pull-filter matches them); anything else (routes, DNS
// options, setenv, ping-restart…) is ignored.
var pulled = []string{
	"redirect-gateway def1", "ifconfig ", "topology ", "route-gateway ", "ping ", "peer-id ",
	"cipher ", "key-derivation ", "protocol-flags ", "tun-mtu ", "explicit-exit-notify",
}

// pullFilter is the client's pull-filter lines: first match wins.
func pullFilter() []string {
	lines := []string{`pull-filter ignore "ping-restart"`}
	for _, p := range pulled {
		lines = append(lines, `pull-filter accept "`+p+`"`)
	}
	return append(lines, `pull-filter ignore ""`)
}

// hostRoutes lists which of addrs have no /32 route in the main table:
// those openvpn adds (via net_gateway) and, running unprivileged, cannot
// take away when it exits; the client deletes them after it.
func hostRoutes(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		o, err := exec.Command("ip", "-4", "route", "show", "exact", a.String()+"/32").Output()
		if err == nil && strings.TrimSpace(string(o)) == "" {
			out = append(out, a)
		}
	}
	return out
}

// removeHostRoutes deletes the /32 routes of addrs (what hostRoutes found
// missing before openvpn started).
func removeHostRoutes(addrs []netip.Addr) {
	for _, a := range addrs {
		exec.Command("ip", "-4", "route", "del", a.String()+"/32").Run()
	}
}
