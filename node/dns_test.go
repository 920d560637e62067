package node

import (
	"net/netip"
	"strings"
	"testing"
)

// TestInsideTunnel: the provider's DNS address is accepted only on the
// tunnel's own link; its LAN, a gateway beyond the tunnel, or no route at
// all are refused, saying where the address is.
func TestInsideTunnel(t *testing.T) {
	routes := map[string]struct {
		dev string
		via string
	}{
		"198.19.0.1":  {"mwgc0", ""},           // the provider's tunnel address
		"1.1.1.1":     {"mwgc0", "198.19.0.1"}, // through the tunnel, beyond it
		"192.168.1.1": {"eth0", ""},            // the consumer's own LAN
		"10.9.9.9":    {"", ""},                // no route
	}
	route := func(a netip.Addr) (string, netip.Addr) {
		r := routes[a.String()]
		via, _ := netip.ParseAddr(r.via)
		return r.dev, via
	}
	for addr, want := range map[string]string{
		"198.19.0.1":  "",
		"1.1.1.1":     "outside the tunnel's subnet",
		"192.168.1.1": "routed out of eth0, not the tunnel mwgc0",
		"10.9.9.9":    "not routed at all",
	} {
		err := insideTunnel(netip.MustParseAddr(addr), "mwgc0", route)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", addr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "resolver is unchanged")):
			t.Errorf("%s: %v, want it refused: %s", addr, err, want)
		}
	}
	if err := insideTunnel(netip.MustParseAddr("198.19.0.1"), "", route); err == nil {
		t.Error("accepted with no tunnel interface")
	}
}
