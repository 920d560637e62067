// Package netlab builds a small lab network of Linux network namespaces for
// end-to-end tests and the demo: a consumer host, a provider host and a web
// host one router beyond the provider's uplink, that the consumer can
// reach only through the provider. Addresses are
// in 198.18.0.0/15; namespace and link names carry a prefix unique to the
// run; Close deletes everything.
package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mystnode/myst/syscmd"
	"golang.org/x/sys/unix"
)

// Addresses of the lab hosts.
const (
	ConsumerIP    = "198.18.1.2" // consumer, on the consumer-provider link
	ProviderIP    = "198.18.1.1" // provider, on the consumer-provider link: its public address
	ProviderWebIP = "198.18.2.1" // provider, on its uplink: what the web host sees
	// WebRouterIP is the internet's router at the end of the provider's
	// uplink; the web host sits one hop beyond it, outside the uplink's
	// subnet (which consumers may not reach).
	WebRouterIP = "198.18.2.2"
	WebIP       = "198.18.3.1" // web host
	// ConsumerResolverIP is the consumer's own ("ISP") resolver on its
	// link, and WebIP the resolver the provider host uses: the lab's
	// resolv.conf files name them (tests run the servers).
	ConsumerResolverIP = "198.18.1.53"
	ProviderUplink     = "up" // provider's interface towards the web (suffix of a unique name)
)

// Lab is a set of namespaces.
type Lab struct {
	Prefix   string
	Consumer string // namespace names
	Provider string
	Web      string
	// ProviderUplink is the provider's interface towards the web host.
	ProviderUplink string
	// Extra are namespaces AddHost added.
	Extra []string
}

// Available reports whether this process can build a lab (root, ip, netns).
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("ip not found: install the Debian package iproute2")
	}
	return nil
}

func run(args ...string) error {
	_, err := syscmd.Run("ip", args...)
	return err
}

// New builds the lab. Names start with prefix and a random suffix.
func New(prefix string) (*Lab, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var r [3]byte
	rand.Read(r[:])
	p := prefix + hex.EncodeToString(r[:])
	if len(p) > 10 {
		p = p[len(p)-10:]
	}
	l := &Lab{Prefix: p, Consumer: p + "-c", Provider: p + "-p", Web: p + "-w", ProviderUplink: p + "pu"}
	steps := [][]string{
		{"netns", "add", l.Consumer}, {"netns", "add", l.Provider}, {"netns", "add", l.Web},
		// consumer <-> provider
		{"link", "add", p + "c", "netns", l.Consumer, "type", "veth", "peer", "name", p + "pc", "netns", l.Provider},
		// provider <-> web
		{"link", "add", l.ProviderUplink, "netns", l.Provider, "type", "veth", "peer", "name", p + "w", "netns", l.Web},
		{"-n", l.Consumer, "addr", "add", ConsumerIP + "/24", "dev", p + "c"},
		{"-n", l.Provider, "addr", "add", ProviderIP + "/24", "dev", p + "pc"},
		{"-n", l.Provider, "addr", "add", ProviderWebIP + "/24", "dev", l.ProviderUplink},
		{"-n", l.Web, "addr", "add", WebRouterIP + "/24", "dev", p + "w"},
		{"-n", l.Web, "addr", "add", WebIP + "/32", "dev", "lo"},
	}
	for _, ns := range []string{l.Consumer, l.Provider, l.Web} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"-n", l.Consumer, "link", "set", p + "c", "up"},
		[]string{"-n", l.Provider, "link", "set", p + "pc", "up"},
		[]string{"-n", l.Provider, "link", "set", l.ProviderUplink, "up"},
		[]string{"-n", l.Web, "link", "set", p + "w", "up"},
		// The consumer's gateway is the provider (as a home router would be
		// for a VPN client); the provider's uplink leads to the web. The web
		// host has no route back to the consumer's network: without the
		// tunnel (and its NAT) the consumer can't talk to it.
		[]string{"-n", l.Consumer, "route", "add", "default", "via", ProviderIP},
		[]string{"-n", l.Provider, "route", "add", "default", "via", WebRouterIP},
	)
	for _, s := range steps {
		if err := run(s...); err != nil {
			l.Close()
			return nil, err
		}
	}
	// Each namespace gets a resolv.conf of its own, which `ip netns exec`
	// bind-mounts over /etc/resolv.conf: programs in the lab (and myst
	// editing its resolver) never touch the host's.
	for ns, server := range map[string]string{l.Consumer: ConsumerResolverIP, l.Provider: WebIP, l.Web: WebIP} {
		err := os.MkdirAll(filepath.Dir(l.ResolvConf(ns)), 0o755)
		if err == nil {
			err = os.WriteFile(l.ResolvConf(ns), []byte("nameserver "+server+"\n"), 0o644)
		}
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("resolv.conf of %s: %w", ns, err)
		}
	}
	return l, nil
}

// ResolvConf is the file a namespace's programs see as /etc/resolv.conf.
func (l *Lab) ResolvConf(ns string) string { return filepath.Join("/etc/netns", ns, "resolv.conf") }

// Close deletes the namespaces (and with them their links).
func (l *Lab) Close() error {
	var errs []error
	for _, ns := range append([]string{l.Consumer, l.Provider, l.Web}, l.Extra...) {
		if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
			if err := run("netns", "del", ns); err != nil {
				errs = append(errs, err)
			}
		}
		if err := os.RemoveAll(filepath.Dir(l.ResolvConf(ns))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AddHost adds a namespace named after the lab and suffix, linked to
// namespace to: the new host has hostIP and to has toIP, both in subnet's
// length. With gateway set the new host's default route goes via toIP
// (a second consumer behind the provider; a home LAN host does not need
// one). It returns the namespace's name.
func (l *Lab) AddHost(suffix, to string, toIP, hostIP netip.Prefix, gateway bool, resolver string) (string, error) {
	ns := l.Prefix + "-" + suffix
	a, b := l.Prefix+suffix+"a", l.Prefix+suffix+"b"
	l.Extra = append(l.Extra, ns)
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", a, "netns", to, "type", "veth", "peer", "name", b, "netns", ns},
		{"-n", to, "addr", "add", toIP.String(), "dev", a},
		{"-n", ns, "addr", "add", hostIP.String(), "dev", b},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", to, "link", "set", a, "up"},
		{"-n", ns, "link", "set", b, "up"},
	}
	if gateway {
		steps = append(steps, []string{"-n", ns, "route", "add", "default", "via", toIP.Addr().String()})
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return ns, err
		}
	}
	if resolver != "" {
		if err := os.MkdirAll(filepath.Dir(l.ResolvConf(ns)), 0o755); err != nil {
			return ns, err
		}
		if err := os.WriteFile(l.ResolvConf(ns), []byte("nameserver "+resolver+"\n"), 0o644); err != nil {
			return ns, err
		}
	}
	return ns, nil
}

// Command runs a program inside a namespace.
func (l *Lab) Command(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Output runs a program inside a namespace and returns its output.
func (l *Lab) Output(ns, name string, args ...string) (string, error) {
	out, err := l.Command(ns, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %v: %s", name, strings.Join(args, " "), ns, err, out)
	}
	return string(out), nil
}

// In runs f on an OS thread switched into namespace ns. Sockets f creates
// stay in ns after the thread switches back.
func In(ns string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: don't let it be reused.
		panic(fmt.Sprintf("return from namespace %s: %v", ns, err))
	}
	return ferr
}

// Listen opens a TCP listener inside namespace ns.
func Listen(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := In(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// DialContext dials from inside namespace ns (usable as an
// http.Transport's DialContext).
func DialContext(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := In(ns, func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}
