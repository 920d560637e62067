package openvpn

import (
	"strings"
	"testing"
)

// filtered applies pull-filter lines the way openvpn does: the first line
// whose text is a prefix of the option decides.
func filtered(lines []string, option string) string {
	for _, l := range lines {
		f := strings.SplitN(l, " ", 3)
		text := strings.Trim(f[2], `"`)
		if strings.HasPrefix(option, text) {
			return f[1]
		}
	}
	return "accept"
}

// TestPullFilter: the consumer takes what a myst tunnel needs from the
// provider's push and ignores anything else a provider might push.
func TestPullFilter(t *testing.T) {
	lines := pullFilter()
	for opt, want := range map[string]string{
		"redirect-gateway def1":                       "accept",
		"ifconfig 198.19.128.2 255.255.128.0":         "accept",
		"route-gateway 198.19.128.1":                  "accept",
		"topology subnet":                             "accept",
		"ping 2":                                      "accept",
		"peer-id 0":                                   "accept",
		"cipher AES-256-GCM":                          "accept",
		"protocol-flags cc-exit tls-ekm":              "accept",
		"ping-restart 10":                             "ignore",
		"route 192.168.1.0 255.255.255.0":             "ignore",
		"redirect-gateway def1 bypass-dhcp local":     "accept",
		"redirect-private":                            "ignore",
		"dhcp-option DNS 192.168.1.1":                 "ignore",
		"dns server 1 address 192.168.1.1":            "ignore",
		"setenv opt block-outside-dns":                "ignore",
		"route-ipv6 2000::/3":                         "ignore",
		"ifconfig-ipv6 fd00::2/64 fd00::1":            "ignore",
		"inactive 1":                                  "ignore",
		"echo forget-passwords":                       "ignore",
		"auth-token SESS_ID":                          "ignore",
		"redirect-gateway ipv6 !ipv4 block-local":     "ignore",
		"redirect-gateway autolocal def1 block-loc":   "ignore",
		"explicit-exit-notify 1":                      "accept",
		"tun-mtu 1500":                                "ignore", // a provider sets no MTU: 576 would break the tunnel
		"key-derivation tls-ekm":                      "accept",
		"route-metric 5":                              "ignore",
		"client-nat snat 1.2.3.4 255.255.255.255 x y": "ignore",
	} {
		if got := filtered(lines, opt); got != want {
			t.Errorf("%q: %s, want %s", opt, got, want)
		}
	}
}
