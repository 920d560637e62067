package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// Addresses of the home lab: an "internet" namespace routes between two
// home routers' external addresses and hosts the network's services and a
// web host; behind each router a home network the internet has no route
// to.
const (
	InternetIP        = "198.18.0.1"  // the network's services (localnet) in the internet namespace
	HomeWebIP         = "198.18.30.1" // the web host, in the internet namespace
	ProviderRouterIP  = "198.18.10.2" // the provider's router, external side
	ConsumerRouterIP  = "198.18.20.2" // the consumer's router, external side
	HomeProviderIP    = "10.0.1.2"    // the provider host, behind its router
	HomeConsumerIP    = "10.0.2.2"    // the consumer host, behind its router
	providerRouterLAN = "10.0.1.1"
	consumerRouterLAN = "10.0.2.1"
)

// Home is the home lab's namespaces.
type Home struct {
	Prefix         string
	Internet       string // namespace names
	ProviderRouter string
	Provider       string
	ConsumerRouter string
	Consumer       string
	// WAN and LAN interface names of the routers, in their namespaces.
	ProviderWAN, ProviderLAN string
	ConsumerWAN, ConsumerLAN string
}

// HomeConfig says how the routers translate.
type HomeConfig struct {
	// Symmetric routers pick a random public port per destination
	// (masquerade fully-random); else they keep one per source port (cone).
	Symmetric bool
}

// NewHome builds the home lab. Both routers masquerade their home network
// (nftables, in a table of their own). Names start with prefix and a
// random suffix.
func NewHome(prefix string, cfg HomeConfig) (*Home, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nft not found: install the Debian package nftables")
	}
	var r [3]byte
	rand.Read(r[:])
	p := prefix + hex.EncodeToString(r[:])
	if len(p) > 10 {
		p = p[len(p)-10:]
	}
	h := &Home{Prefix: p, Internet: p + "-i", ProviderRouter: p + "-pr", Provider: p + "-p", ConsumerRouter: p + "-cr", Consumer: p + "-c",
		ProviderWAN: p + "pw", ProviderLAN: p + "pl", ConsumerWAN: p + "cw", ConsumerLAN: p + "cl"}
	steps := [][]string{}
	for _, ns := range h.namespaces() {
		steps = append(steps, []string{"netns", "add", ns}, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"-n", h.Internet, "addr", "add", InternetIP + "/32", "dev", "lo"},
		[]string{"-n", h.Internet, "addr", "add", HomeWebIP + "/32", "dev", "lo"},
		// internet <-> provider router <-> provider
		[]string{"link", "add", p + "ip", "netns", h.Internet, "type", "veth", "peer", "name", h.ProviderWAN, "netns", h.ProviderRouter},
		[]string{"link", "add", h.ProviderLAN, "netns", h.ProviderRouter, "type", "veth", "peer", "name", p + "ph", "netns", h.Provider},
		[]string{"-n", h.Internet, "addr", "add", "198.18.10.1/24", "dev", p + "ip"},
		[]string{"-n", h.ProviderRouter, "addr", "add", ProviderRouterIP + "/24", "dev", h.ProviderWAN},
		[]string{"-n", h.ProviderRouter, "addr", "add", providerRouterLAN + "/24", "dev", h.ProviderLAN},
		[]string{"-n", h.Provider, "addr", "add", HomeProviderIP + "/24", "dev", p + "ph"},
		// internet <-> consumer router <-> consumer
		[]string{"link", "add", p + "ic", "netns", h.Internet, "type", "veth", "peer", "name", h.ConsumerWAN, "netns", h.ConsumerRouter},
		[]string{"link", "add", h.ConsumerLAN, "netns", h.ConsumerRouter, "type", "veth", "peer", "name", p + "ch", "netns", h.Consumer},
		[]string{"-n", h.Internet, "addr", "add", "198.18.20.1/24", "dev", p + "ic"},
		[]string{"-n", h.ConsumerRouter, "addr", "add", ConsumerRouterIP + "/24", "dev", h.ConsumerWAN},
		[]string{"-n", h.ConsumerRouter, "addr", "add", consumerRouterLAN + "/24", "dev", h.ConsumerLAN},
		[]string{"-n", h.Consumer, "addr", "add", HomeConsumerIP + "/24", "dev", p + "ch"},
	)
	for ns, links := range map[string][]string{
		h.Internet: {p + "ip", p + "ic"}, h.ProviderRouter: {h.ProviderWAN, h.ProviderLAN}, h.Provider: {p + "ph"},
		h.ConsumerRouter: {h.ConsumerWAN, h.ConsumerLAN}, h.Consumer: {p + "ch"},
	} {
		for _, l := range links {
			steps = append(steps, []string{"-n", ns, "link", "set", l, "up"})
		}
	}
	steps = append(steps,
		[]string{"-n", h.ProviderRouter, "route", "add", "default", "via", "198.18.10.1"},
		[]string{"-n", h.ConsumerRouter, "route", "add", "default", "via", "198.18.20.1"},
		[]string{"-n", h.Provider, "route", "add", "default", "via", providerRouterLAN},
		[]string{"-n", h.Consumer, "route", "add", "default", "via", consumerRouterLAN},
	)
	fail := func(err error) (*Home, error) {
		h.Close()
		return nil, err
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return fail(err)
		}
	}
	for _, ns := range []string{h.Internet, h.ProviderRouter, h.ConsumerRouter} {
		if _, err := h.output(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
			return fail(err)
		}
	}
	masq := "masquerade"
	if cfg.Symmetric {
		masq = "masquerade fully-random"
	}
	for _, r := range [][3]string{{h.ProviderRouter, h.ProviderWAN, "10.0.1.0/24"}, {h.ConsumerRouter, h.ConsumerWAN, "10.0.2.0/24"}} {
		// The chains miniupnpd fills (see MiniUPnPd) and the router's NAT.
		rules := fmt.Sprintf(`table inet myst_upnp {
	chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
	chain miniupnpd { }
	chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
	chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; oifname "%s" ip saddr %s %s; }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
}
`, r[1], r[2], masq)
		if err := Nft(r[0], rules); err != nil {
			return fail(err)
		}
	}
	for ns, server := range map[string]string{h.Provider: HomeWebIP, h.Consumer: HomeWebIP} {
		err := os.MkdirAll(filepath.Dir(h.ResolvConf(ns)), 0o755)
		if err == nil {
			err = os.WriteFile(h.ResolvConf(ns), []byte("nameserver "+server+"\n"), 0o644)
		}
		if err != nil {
			return fail(fmt.Errorf("resolv.conf of %s: %w", ns, err))
		}
	}
	return h, nil
}

func (h *Home) namespaces() []string {
	return []string{h.Internet, h.ProviderRouter, h.Provider, h.ConsumerRouter, h.Consumer}
}

// ResolvConf is the file a namespace's programs see as /etc/resolv.conf.
func (h *Home) ResolvConf(ns string) string { return resolvConf(ns) }

func (h *Home) output(ns, name string, args ...string) (string, error) {
	return nsOutput(ns, name, args...)
}

// Output runs a program in a namespace of the lab.
func (h *Home) Output(ns, name string, args ...string) (string, error) {
	return h.output(ns, name, args...)
}

// Close deletes the namespaces (and their links).
func (h *Home) Close() error { return deleteNamespaces(h.namespaces()) }

// deleteNamespaces deletes namespaces (and their links) and their
// /etc/netns files.
func deleteNamespaces(nss []string) error {
	var errs []error
	for _, ns := range nss {
		if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
			if err := run("netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
		if err := os.RemoveAll(filepath.Join("/etc/netns", ns)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MiniUPnPd starts Debian's miniupnpd (UPnP IGD and NAT-PMP) on the
// provider's router, writing its config, lease and pid files in dir. Its
// external address is in the lab's "public" 198.18.0.0/15, which
// miniupnpd takes for a private one; it asks STUN (stunHost:stunPort)
// whether it is really reachable. refuse makes it refuse every mapping.
func (h *Home) MiniUPnPd(dir, stunHost string, stunPort int, refuse bool) (*Process, error) {
	if _, err := exec.LookPath("miniupnpd"); err != nil {
		return nil, errors.New("miniupnpd not found: install the Debian package miniupnpd-nftables")
	}
	var u [16]byte
	rand.Read(u[:])
	perm, natpmp := "allow 1024-65535 10.0.1.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n", "yes"
	if refuse {
		// Refusing over UPnP only: miniupnpd answers a NAT-PMP request
		// its rules deny by trying every other external port first (tens
		// of thousands of checks, seconds of a core per request).
		perm, natpmp = "deny 0-65535 0.0.0.0/0 0-65535\n", "no"
	}
	conf := fmt.Sprintf(`ext_ifname=%s
listening_ip=%s
http_port=0
enable_natpmp=%s
enable_upnp=yes
secure_mode=yes
system_uptime=yes
ext_perform_stun=yes
ext_stun_host=%s
ext_stun_port=%d
upnp_table_name=myst_upnp
upnp_nat_table_name=myst_upnp
lease_file=%s
uuid=%x-%x-%x-%x-%x
%s`, h.ProviderWAN, h.ProviderLAN, natpmp, stunHost, stunPort, filepath.Join(dir, "leases"), u[0:4], u[4:6], u[6:8], u[8:10], u[10:16], perm)
	path := filepath.Join(dir, "miniupnpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	stderr, err := os.Create(filepath.Join(dir, "miniupnpd.log"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	// -d: foreground, debug messages on stderr.
	p, err := Start(h.ProviderRouter, stderr, "miniupnpd", "-f", path, "-d", "-P", filepath.Join(dir, "miniupnpd.pid"))
	if err != nil {
		return nil, err
	}
	// It prints nothing on stdout: wait for its HTTP listener instead.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "miniupnpd.log"))
		if regexp.MustCompile(`HTTP listening on port \d+`).Match(b) {
			return p, nil
		}
		select {
		case <-p.Exited():
			return nil, fmt.Errorf("miniupnpd exited: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.Stop(time.Second)
	b, _ := os.ReadFile(filepath.Join(dir, "miniupnpd.log"))
	return nil, fmt.Errorf("miniupnpd did not start listening within 10 s: %s", b)
}

// ProviderRouterMovedIP is the provider router's external address after
// MoveProviderRouter (an ISP handing out a new address).
const ProviderRouterMovedIP = "198.18.10.3"

// MoveProviderRouter gives the provider's router a new external address,
// as an ISP does now and then: connections through the old one break.
func (h *Home) MoveProviderRouter() error {
	for _, s := range [][]string{
		{"-n", h.ProviderRouter, "addr", "del", ProviderRouterIP + "/24", "dev", h.ProviderWAN},
		{"-n", h.ProviderRouter, "addr", "add", ProviderRouterMovedIP + "/24", "dev", h.ProviderWAN},
		{"-n", h.ProviderRouter, "route", "replace", "default", "via", "198.18.10.1"},
	} {
		if err := run(s...); err != nil {
			return err
		}
	}
	return nil
}

// UPnPRules lists the port forwards miniupnpd holds in the provider's
// router (its nftables chain).
func (h *Home) UPnPRules() (string, error) {
	return h.output(h.ProviderRouter, "nft", "list", "chain", "inet", "myst_upnp", "prerouting_miniupnpd")
}
