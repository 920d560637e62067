package openvpn

// pulled are the options a consumer takes from what the provider pushes
// (prefixes, as pull-filter matches them); anything else (routes, DNS
// options, setenv, ping-restart, tun-mtu…) is ignored. What the taken ones
// set is checked once the tunnel is up (Client.checkTunnel).
var pulled = []string{
	"redirect-gateway def1", "ifconfig ", "topology ", "route-gateway ", "ping ", "peer-id ",
	"cipher ", "key-derivation ", "protocol-flags ", "explicit-exit-notify",
}

// pullFilter is the client's pull-filter lines: first match wins.
func pullFilter() []string {
	lines := []string{`pull-filter ignore "ping-restart"`}
	for _, p := range pulled {
		lines = append(lines, `pull-filter accept "`+p+`"`)
	}
	return append(lines, `pull-filter ignore ""`)
}
