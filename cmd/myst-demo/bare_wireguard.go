package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/wireguard"
)

// wireguardGo is the wireguard-go program for the bare pair (--wireguard-go).
var wireguardGo = "wireguard-go"

// bareWireGuard runs wireguard-go in the provider's and the consumer's
// namespaces, configured by hand with wg (Debian's wireguard-tools) as
// myst configures its devices (MTU, /1 routes, the same NAT); it returns
// once the first handshake completed.
func (d *demo) bareWireGuard(ctx context.Context) (stop func(), err error) {
	bin, err := exec.LookPath(wireguardGo)
	if err != nil {
		return nil, fmt.Errorf("%w: build it with `go build -o /tmp/wireguard-go golang.zx2c4.com/wireguard` and pass --wireguard-go /tmp/wireguard-go", err)
	}
	if _, err := exec.LookPath("wg"); err != nil {
		return nil, fmt.Errorf("%w: install the Debian package wireguard-tools", err)
	}
	pk, _ := wireguard.NewPrivateKey()
	ck, _ := wireguard.NewPrivateKey()
	port, err := freeUDPPortIn(d.lab.Provider)
	if err != nil {
		return nil, err
	}
	b, err := d.newBarePair("bare-wireguard", "198.19.201.0/24")
	if err != nil {
		return nil, err
	}
	for name, k := range map[string]wireguard.Key{"provider.key": pk, "consumer.key": ck} {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(k.String()+"\n"), 0o600); err != nil {
			b.stop()
			return nil, err
		}
	}
	pIf, cIf := "wgbp"+d.lab.Provider[len(d.lab.Provider)-6:], "wgbc"+d.lab.Consumer[len(d.lab.Consumer)-6:]
	run := b.run
	startIn := func(ns, ifname string) error {
		if err := b.start(ns, ifname, bin, "-f", ifname); err != nil {
			return err
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat("/var/run/wireguard/" + ifname + ".sock"); err == nil {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("wireguard-go %s not up after 10s", ifname)
			}
		}
	}
	dir := b.dir
	stop = b.stop
	steps := []func() error{
		func() error { return startIn(d.lab.Provider, pIf) },
		func() error {
			return run(d.lab.Provider, "wg", "set", pIf, "private-key", filepath.Join(dir, "provider.key"), "listen-port", fmt.Sprint(port),
				"peer", ck.Public().String(), "allowed-ips", "198.19.201.2/32")
		},
		func() error { return run(d.lab.Provider, "ip", "addr", "add", "198.19.201.1/24", "dev", pIf) },
		func() error {
			return run(d.lab.Provider, "ip", "link", "set", pIf, "mtu", fmt.Sprint(wireguard.MTU), "up")
		},
		func() error { return startIn(d.lab.Consumer, cIf) },
		func() error {
			return run(d.lab.Consumer, "wg", "set", cIf, "private-key", filepath.Join(dir, "consumer.key"),
				"peer", pk.Public().String(), "endpoint", fmt.Sprintf("%s:%d", netlab.ProviderIP, port), "allowed-ips", "0.0.0.0/0", "persistent-keepalive", "5")
		},
		func() error { return run(d.lab.Consumer, "ip", "addr", "add", "198.19.201.2/32", "dev", cIf) },
		func() error {
			return run(d.lab.Consumer, "ip", "link", "set", cIf, "mtu", fmt.Sprint(wireguard.MTU), "up")
		},
		func() error { return run(d.lab.Consumer, "ip", "route", "add", "0.0.0.0/1", "dev", cIf) },
		func() error { return run(d.lab.Consumer, "ip", "route", "add", "128.0.0.0/1", "dev", cIf) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			stop()
			return nil, err
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, _ := d.lab.Command(d.lab.Consumer, "wg", "show", cIf, "latest-handshakes").Output()
		if f := len(out); f > 0 && !bytesHasSuffix(out, "\t0\n") {
			return stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("bare wireguard pair: no handshake after 10s")
		}
	}
}

func bytesHasSuffix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[len(b)-len(s):]) == s
}
