package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The kinds of Site.
const (
	SitePublic    = "public"    // the host has a public address of its own
	SiteCone      = "cone"      // behind a router that keeps one public port per source port
	SiteSymmetric = "symmetric" // behind a router with a random public port per destination (fully-random)
)

// Site is one host of a Sites lab.
type Site struct {
	Kind     string
	Host     string // the host's namespace
	Router   string // its router's namespace ("" for a public host)
	PublicIP string // where the internet sees the host: its own address, or its router's
	// Link is the internet's side of the site's link (in the internet
	// namespace): traffic to the site leaves there (tc shapes it).
	Link string
}

// Sites is a lab "internet" (a namespace holding InternetIP, for the
// network's services, and HomeWebIP, the web host) with any number of
// hosts: public ones on it directly, the others behind a router of their
// own that masquerades (nftables) like a home router, cone or symmetric.
// No host has a route to another's home network.
type Sites struct {
	Prefix   string
	Internet string
	Sites    []*Site
	nss      []string
}

// NewSites builds a lab of hosts of the given kinds (at most 50). Names
// start with prefix and a random suffix.
func NewSites(prefix string, kinds ...string) (*Sites, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return nil, errors.New("nft not found: install the Debian package nftables")
	}
	if len(kinds) > 50 {
		return nil, fmt.Errorf("%d sites, at most 50", len(kinds))
	}
	var r [3]byte
	rand.Read(r[:])
	p := prefix + hex.EncodeToString(r[:])
	if len(p) > 10 {
		p = p[len(p)-10:]
	}
	l := &Sites{Prefix: p, Internet: p + "-i"}
	fail := func(err error) (*Sites, error) {
		l.Close()
		return nil, err
	}
	l.nss = append(l.nss, l.Internet)
	if err := runAll(
		[]string{"netns", "add", l.Internet}, []string{"-n", l.Internet, "link", "set", "lo", "up"},
		[]string{"-n", l.Internet, "addr", "add", InternetIP + "/32", "dev", "lo"},
		[]string{"-n", l.Internet, "addr", "add", HomeWebIP + "/32", "dev", "lo"},
	); err != nil {
		return fail(err)
	}
	if _, err := nsOutput(l.Internet, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		return fail(err)
	}
	for i, kind := range kinds {
		wan := fmt.Sprintf("198.18.%d.2", 40+i)
		inet, ext := fmt.Sprintf("%si%d", p, i), fmt.Sprintf("%sw%d", p, i)
		s := &Site{Kind: kind, Host: fmt.Sprintf("%s-h%d", p, i), Link: inet}
		switch kind {
		case SitePublic:
			s.PublicIP = wan
			l.nss = append(l.nss, s.Host)
			if err := runAll(
				[]string{"netns", "add", s.Host}, []string{"-n", s.Host, "link", "set", "lo", "up"},
				[]string{"link", "add", inet, "netns", l.Internet, "type", "veth", "peer", "name", ext, "netns", s.Host},
				[]string{"-n", l.Internet, "addr", "add", fmt.Sprintf("198.18.%d.1/24", 40+i), "dev", inet},
				[]string{"-n", s.Host, "addr", "add", wan + "/24", "dev", ext},
				[]string{"-n", l.Internet, "link", "set", inet, "up"}, []string{"-n", s.Host, "link", "set", ext, "up"},
				[]string{"-n", s.Host, "route", "add", "default", "via", fmt.Sprintf("198.18.%d.1", 40+i)},
			); err != nil {
				return fail(err)
			}
		case SiteCone, SiteSymmetric:
			s.Router, s.PublicIP = fmt.Sprintf("%s-r%d", p, i), wan
			lan, home := fmt.Sprintf("%sl%d", p, i), fmt.Sprintf("%sh%d", p, i)
			l.nss = append(l.nss, s.Router, s.Host)
			if err := runAll(
				[]string{"netns", "add", s.Router}, []string{"-n", s.Router, "link", "set", "lo", "up"},
				[]string{"netns", "add", s.Host}, []string{"-n", s.Host, "link", "set", "lo", "up"},
				[]string{"link", "add", inet, "netns", l.Internet, "type", "veth", "peer", "name", ext, "netns", s.Router},
				[]string{"link", "add", lan, "netns", s.Router, "type", "veth", "peer", "name", home, "netns", s.Host},
				[]string{"-n", l.Internet, "addr", "add", fmt.Sprintf("198.18.%d.1/24", 40+i), "dev", inet},
				[]string{"-n", s.Router, "addr", "add", wan + "/24", "dev", ext},
				[]string{"-n", s.Router, "addr", "add", fmt.Sprintf("10.0.%d.1/24", 10+i), "dev", lan},
				[]string{"-n", s.Host, "addr", "add", fmt.Sprintf("10.0.%d.2/24", 10+i), "dev", home},
				[]string{"-n", l.Internet, "link", "set", inet, "up"}, []string{"-n", s.Router, "link", "set", ext, "up"},
				[]string{"-n", s.Router, "link", "set", lan, "up"}, []string{"-n", s.Host, "link", "set", home, "up"},
				[]string{"-n", s.Router, "route", "add", "default", "via", fmt.Sprintf("198.18.%d.1", 40+i)},
				[]string{"-n", s.Host, "route", "add", "default", "via", fmt.Sprintf("10.0.%d.1", 10+i)},
			); err != nil {
				return fail(err)
			}
			if _, err := nsOutput(s.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
				return fail(err)
			}
			masq := "masquerade"
			if kind == SiteSymmetric {
				masq = "masquerade fully-random"
			}
			rules := fmt.Sprintf("table inet myst_nat {\n\tchain postrouting { type nat hook postrouting priority 100; policy accept; oifname %q ip saddr 10.0.%d.0/24 %s; }\n}\n", ext, 10+i, masq)
			if err := Nft(s.Router, rules); err != nil {
				return fail(err)
			}
		default:
			return fail(fmt.Errorf("site kind %q: want public, cone or symmetric", kind))
		}
		err := os.MkdirAll(filepath.Dir(resolvConf(s.Host)), 0o755)
		if err == nil {
			err = os.WriteFile(resolvConf(s.Host), []byte("nameserver "+HomeWebIP+"\n"), 0o644)
		}
		if err != nil {
			return fail(fmt.Errorf("resolv.conf of %s: %w", s.Host, err))
		}
		l.Sites = append(l.Sites, s)
	}
	return l, nil
}

func resolvConf(ns string) string { return filepath.Join("/etc/netns", ns, "resolv.conf") }

func runAll(steps ...[]string) error {
	for _, s := range steps {
		if err := run(s...); err != nil {
			return err
		}
	}
	return nil
}

func nsOutput(ns, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %v in %s: %v: %s", name, args, ns, err, out)
	}
	return string(out), nil
}

// Nft loads nftables rules in namespace ns.
func Nft(ns, rules string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", ns, err, out)
	}
	return nil
}

// Output runs a program in a namespace of the lab.
func (l *Sites) Output(ns, name string, args ...string) (string, error) {
	return nsOutput(ns, name, args...)
}

// Close deletes the namespaces (and their links).
func (l *Sites) Close() error { return deleteNamespaces(l.nss) }
