package wireguard

import (
	"net/netip"
	"testing"
)

// What a peer sends beyond the dialog, fed arbitrary bytes: no decoder may
// panic, and what decodes is what the rest of the code relies on.

func FuzzProviderConfig(f *testing.F) {
	f.Add([]byte(`{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","endpoint":"198.18.1.1:51820","address":"10.89.0.2/32","dns":"10.89.0.1"}`))
	f.Add([]byte(`{"public_key":"","endpoint":"[::1]:1","address":"192.168.1.130/25"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pc, err := parseProviderConfig(b)
		if err != nil {
			return
		}
		if !pc.endpoint.Addr().Is4() || !pc.addr.Addr().Is4() || pc.addr.Bits() != 32 {
			t.Fatalf("accepted %q as %+v", b, pc)
		}
	})
}

func FuzzConsumerConfig(f *testing.F) {
	tunnel := netip.MustParsePrefix("10.89.0.0/24")
	f.Add([]byte(`{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","candidates":["203.0.113.5:40000"]}`))
	f.Add([]byte(`{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","candidates":["127.0.0.1:1","10.89.0.5:9"]}`))
	f.Add([]byte(`{"public_key":"x"}`))
	f.Add([]byte(`{"public_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","candidates":["203.0.113.5:40000"],"relay":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cc, err := parseConsumerConfig(b, tunnel)
		cands := cc.cands
		if err != nil {
			return
		}
		if len(cands) > MaxCandidates {
			t.Fatalf("%d candidates accepted", len(cands))
		}
		for _, c := range cands {
			a := c.Addr()
			if !a.Is4() || a.IsLoopback() || a.IsMulticast() || a.IsUnspecified() || tunnel.Contains(a) || c.Port() == 0 {
				t.Fatalf("candidate %v accepted", c)
			}
		}
	})
}
