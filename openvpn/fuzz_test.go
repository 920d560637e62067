package openvpn

import (
	"encoding/json"
	"net/netip"
	"testing"
)

// FuzzClientConfig feeds the consumer's decoder of an openvpn provider's
// config arbitrary bytes: no panic; what decodes has an IP remote, a port,
// udp and myst's cipher.
func FuzzClientConfig(f *testing.F) {
	pki, err := NewPKI("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(ClientConfig{Remote: "198.18.1.1", Port: 1194, Proto: "udp", Cipher: Cipher, CACert: string(pki.CACert),
		TLSCryptKey: string(pki.TLSCryptKey), DNS: "10.88.0.1"})
	f.Add(good)
	f.Add([]byte(`{"remote":"x","port":0}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseClientConfig(b)
		if err != nil {
			return
		}
		if _, err := netip.ParseAddr(c.Remote); err != nil || c.Port < 1 || c.Port > 65535 || c.Proto != "udp" || c.Cipher != Cipher {
			t.Fatalf("accepted %+v", c)
		}
	})
}
