package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func TestServiceLocationFromGeoIP(t *testing.T) {
	t.Parallel()
	ln := startLocalnet(t)
	dir := t.TempDir()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, nw, _ := net.ParseCIDR("198.18.0.0/15")
	tree.Insert(nw, mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String("LT")},
		"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Vilnius")}},
	})
	db := filepath.Join(dir, "geo.mmdb")
	f, err := os.Create(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()

	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentity(t, ln, filepath.Join(dir, "provider"), pass, true)
	pd := startDaemon(t, ln, filepath.Join(dir, "provider"), "--geoip-db", db, "--public-ip", "198.18.7.7")
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMyst(t, append(pd.args, "service", "start", "noop", "--identity", provider)...)
	r := mustMyst(t, append(pd.args, "proposals", "--country", "LT")...)
	if !strings.Contains(r.stdout, provider) || !strings.Contains(r.stdout, "Vilnius") {
		t.Fatalf("proposal located by GeoIP not found:\n%s", r.stdout)
	}
	// An address the database does not know is a clear error at start.
	r = myst(t, "--data-dir", filepath.Join(dir, "other"), "--network", ln.network, "--api-addr", "127.0.0.1:0", "daemon", "--geoip-db", db, "--public-ip", "10.1.2.3")
	if r.code == 0 || !strings.Contains(r.stderr, "not in the GeoIP database") || !strings.Contains(r.stderr, "--country") {
		t.Fatalf("unknown address: exit %d, %s", r.code, r.stderr)
	}
}

func TestOpenVPNBinaryMissing(t *testing.T) {
	t.Parallel()
	ln := startLocalnet(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentity(t, ln, filepath.Join(dir, "provider"), pass, true)
	pd := startDaemon(t, ln, filepath.Join(dir, "provider"), "--openvpn-binary", "openvpn-not-here", "--public-ip", "127.0.0.1", "--country", "DE")
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	r := myst(t, append(pd.args, "service", "start", "openvpn", "--identity", provider)...)
	if r.code == 0 || !strings.Contains(r.stderr, "install the Debian package openvpn") {
		t.Fatalf("service start without openvpn: exit %d, %s", r.code, r.stderr)
	}
	if l := mustMyst(t, append(pd.args, "service", "list")...).stdout; strings.Contains(l, "openvpn") {
		t.Fatalf("a failed service is listed:\n%s", l)
	}
}
