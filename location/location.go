// Package location finds where a provider's traffic appears to come from:
// the machine's public address, and that address's country and city in a
// MaxMind-format GeoIP database (GeoLite2-Country or -City, or DB-IP's
// free "lite" databases in the same format).
package location

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/mystnode/myst/syscmd"
	"github.com/oschwald/maxminddb-golang/v2"
)

// ErrNotFound means the database has no entry for the address.
var ErrNotFound = errors.New("address not in the GeoIP database")

type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
}

// Lookup returns the ISO 3166-1 alpha-2 country (and English city name, if
// the database has cities) of ip.
func Lookup(dbPath string, ip netip.Addr) (country, city string, err error) {
	db, err := maxminddb.Open(dbPath)
	if err != nil {
		return "", "", fmt.Errorf("open GeoIP database %s: %w", dbPath, err)
	}
	defer db.Close()
	var r record
	res := db.Lookup(ip.Unmap())
	if err := res.Err(); err != nil {
		return "", "", fmt.Errorf("look up %s: %w", ip, err)
	}
	if !res.Found() {
		return "", "", fmt.Errorf("%w: %s", ErrNotFound, ip)
	}
	if err := res.Decode(&r); err != nil {
		return "", "", fmt.Errorf("look up %s: %w", ip, err)
	}
	if r.Country.ISOCode == "" {
		return "", "", fmt.Errorf("%w: %s has no country", ErrNotFound, ip)
	}
	return r.Country.ISOCode, r.City.Names["en"], nil
}

// DefaultRouteAddr returns the IPv4 address of the interface that holds the
// default route: the address a provider's peers reach unless told otherwise.
func DefaultRouteAddr() (netip.Addr, string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("read routes: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var iface string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags ... Mask
		if len(fields) >= 8 && fields[1] == "00000000" && fields[7] == "00000000" {
			iface = fields[0]
			break
		}
	}
	if iface == "" {
		return netip.Addr{}, "", errors.New("no default route: pass the public address explicitly (--public-ip)")
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("default route interface %s: %w", iface, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("addresses of %s: %w", iface, err)
	}
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), iface, nil
			}
		}
	}
	return netip.Addr{}, "", fmt.Errorf("default route interface %s has no IPv4 address", iface)
}

// RouteDev is the interface this host routes addr out of ("" if none).
func RouteDev(addr netip.Addr) string {
	dev, _ := Route(addr)
	return dev
}

// Route is how this host reaches addr: the interface ("" if no route)
// and the gateway (invalid when addr is on the interface's own link).
func Route(addr netip.Addr) (dev string, via netip.Addr) {
	if !addr.IsValid() {
		return "", netip.Addr{}
	}
	r, err := syscmd.RouteTo(addr)
	if err != nil {
		return "", netip.Addr{}
	}
	return r.Dev, r.Via
}
