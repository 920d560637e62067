package location

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeDB writes a small GeoIP database in MaxMind's format: 198.18.0.0/16
// is Berlin, Germany; 198.19.0.0/16 is in the US with no city.
func writeDB(t *testing.T) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	_, de, _ := net.ParseCIDR("198.18.0.0/16")
	_, us, _ := net.ParseCIDR("198.19.0.0/16")
	tree.Insert(de, mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")},
		"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String("Berlin")}},
	})
	tree.Insert(us, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("US")}})
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestLookup(t *testing.T) {
	db := writeDB(t)
	for ip, want := range map[string][2]string{"198.18.3.4": {"DE", "Berlin"}, "198.19.0.1": {"US", ""}} {
		c, city, err := Lookup(db, netip.MustParseAddr(ip))
		if err != nil || c != want[0] || city != want[1] {
			t.Errorf("Lookup(%s) = %q %q %v, want %v", ip, c, city, err, want)
		}
	}
	if _, _, err := Lookup(db, netip.MustParseAddr("10.0.0.1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown address: %v", err)
	}
	if _, _, err := Lookup(filepath.Join(t.TempDir(), "missing.mmdb"), netip.MustParseAddr("198.18.0.1")); err == nil {
		t.Error("missing database opened")
	}
}
