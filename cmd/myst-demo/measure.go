package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/openvpn"
)

// download fetches n bytes and returns Mbit/s.
func download(c *http.Client, url string, n int) (float64, error) {
	start := time.Now()
	resp, err := c.Get(fmt.Sprintf("%s?n=%d", url, n))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return 0, err
	}
	if got != int64(n) {
		return 0, fmt.Errorf("got %d of %d bytes", got, n)
	}
	return float64(n) * 8 / time.Since(start).Seconds() / 1e6, nil
}

// measurement is what --measure prints.
type measurement struct {
	connect     map[string][]time.Duration // by service type, kill switch on, DNS through the tunnel
	unprotected map[string][]time.Duration // kill switch off, system resolver
	myst        map[string][]float64       // Mbit/s per run, by service type
	raw         []float64
	bare        map[string][]float64 // by service type
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// measure runs connect-time and throughput measurements in the lab, for
// each service type: n connects (myst connect to the first byte from the
// web host) and downloads of size bytes through myst's tunnel; then
// downloads over the raw consumer-provider link, through a bare openvpn
// pair (same cipher, same NAT, configured by hand) and through a bare
// wireguard-go pair (configured by hand with wg), each on the same
// machine in the same run.
func (d *demo) measure(ctx context.Context, n, size int, ids, apis map[string]string, client *http.Client) error {
	P := []string{"--data-dir", filepath.Join(d.dir, "provider"), "--api-addr", apis["provider"]}
	C := []string{"--data-dir", filepath.Join(d.dir, "consumer"), "--api-addr", apis["consumer"]}
	web := "http://" + netlab.WebIP + "/bytes"
	m := measurement{connect: map[string][]time.Duration{}, unprotected: map[string][]time.Duration{}, myst: map[string][]float64{}, bare: map[string][]float64{}}
	types := []string{"openvpn", "wireguard"}

	// The raw link: a server on the provider's public address, no tunnel.
	rawLn, err := netlab.Listen(d.lab.Provider, netlab.ProviderIP+":0")
	if err != nil {
		return err
	}
	rawSrv := &http.Server{Handler: http.HandlerFunc(netlab.BytesHandler)}
	go rawSrv.Serve(rawLn)
	defer rawSrv.Close()
	rawURL := "http://" + rawLn.Addr().String() + "/bytes"

	for _, typ := range types {
		svc, err := d.cli(ctx, d.lab.Provider, append(P, "service", "start", typ, "--identity", ids["provider"])...)
		if err != nil {
			return err
		}
		// Every other connect without the kill switch and with the system
		// resolver: what the protection adds to connect.
		for i := 0; i < 2*n; i++ {
			args := append(C, "connect", ids["provider"], "--identity", ids["consumer"], "--service", typ)
			unprotected := i%2 == 1
			if unprotected {
				args = append(args, "--kill-switch=false", "--dns", "system")
			}
			start := time.Now()
			if _, err := d.cli(ctx, d.lab.Consumer, args...); err != nil {
				return err
			}
			resp, err := client.Get("http://" + netlab.WebIP + "/")
			if err != nil {
				return fmt.Errorf("first byte: %w", err)
			}
			resp.Body.Close()
			if unprotected {
				m.unprotected[typ] = append(m.unprotected[typ], time.Since(start))
				if _, err := d.cli(ctx, d.lab.Consumer, append(C, "disconnect")...); err != nil {
					return err
				}
				continue
			}
			m.connect[typ] = append(m.connect[typ], time.Since(start))
			if i < 6 {
				mb, err := download(client, web, size)
				if err != nil {
					return fmt.Errorf("myst %s download: %w", typ, err)
				}
				m.myst[typ] = append(m.myst[typ], mb)
			}
			if _, err := d.cli(ctx, d.lab.Consumer, append(C, "disconnect")...); err != nil {
				return err
			}
		}
		if _, err := d.cli(ctx, d.lab.Provider, append(P, "service", "stop", lastLine(svc))...); err != nil {
			return err
		}
	}
	for range 3 {
		mb, err := download(client, rawURL, size)
		if err != nil {
			return fmt.Errorf("raw link download: %w", err)
		}
		m.raw = append(m.raw, mb)
	}
	for _, typ := range types {
		bare := d.bareOpenVPN
		if typ == "wireguard" {
			bare = d.bareWireGuard
		}
		stopBare, err := bare(ctx)
		if err != nil {
			return fmt.Errorf("bare %s pair: %w", typ, err)
		}
		for range 3 {
			mb, err := download(client, web, size)
			if err != nil {
				stopBare()
				return fmt.Errorf("bare %s download: %w", typ, err)
			}
			m.bare[typ] = append(m.bare[typ], mb)
		}
		stopBare()
	}

	step("measured (%d connects per service; %d MiB downloads, 3 each)", n, size>>20)
	fmt.Printf("   raw link (no tunnel):       median %.0f Mbit/s %v\n", median(m.raw), round(m.raw))
	for _, typ := range types {
		c := m.connect[typ]
		slices.Sort(c)
		fmt.Printf("   %s:\n", typ)
		u := m.unprotected[typ]
		slices.Sort(u)
		fmt.Printf("     connect to first byte:    median %s, fastest %s, slowest %s (kill switch on, DNS through the tunnel)\n", median(c).Round(time.Millisecond), c[0].Round(time.Millisecond), c[len(c)-1].Round(time.Millisecond))
		fmt.Printf("     the same, unprotected:    median %s, fastest %s, slowest %s (kill switch off, system DNS): protection adds %s\n",
			median(u).Round(time.Millisecond), u[0].Round(time.Millisecond), u[len(u)-1].Round(time.Millisecond), (median(c) - median(u)).Round(time.Millisecond))
		fmt.Printf("     bare %-9s pair:      median %.0f Mbit/s %v\n", typ, median(m.bare[typ]), round(m.bare[typ]))
		fmt.Printf("     myst %-9s tunnel:    median %.0f Mbit/s %v\n", typ, median(m.myst[typ]), round(m.myst[typ]))
		fmt.Printf("     myst / bare:              %.0f%%\n", 100*median(m.myst[typ])/median(m.bare[typ]))
	}
	return nil
}

func round(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}

// barePair is a tunnel pair configured by hand for a measurement: its
// folder, its processes, and the NAT rule of its subnet on the provider.
type barePair struct {
	d     *demo
	dir   string
	nat   []string
	procs []*exec.Cmd
}

// newBarePair makes the folder and forwards subnet out of the provider's
// uplink with NAT, as myst does.
func (d *demo) newBarePair(name, subnet string) (*barePair, error) {
	b := &barePair{d: d, dir: filepath.Join(d.dir, name), nat: []string{"-t", "nat", "POSTROUTING", "-s", subnet, "-o", d.lab.ProviderUplink, "-j", "MASQUERADE"}}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, err
	}
	if err := b.run(d.lab.Provider, append([]string{"iptables", "-w", b.nat[0], b.nat[1], "-A"}, b.nat[2:]...)...); err != nil {
		return nil, err
	}
	if err := b.run(d.lab.Provider, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

// run runs a command in ns to completion.
func (b *barePair) run(ns string, args ...string) error {
	if out, err := b.d.lab.Command(ns, args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %v: %s", args, err, out)
	}
	return nil
}

// start runs a long-lived program in ns, in the pair's folder, its output
// in logName.log there.
func (b *barePair) start(ns, logName string, args ...string) error {
	cmd := b.d.lab.Command(ns, args[0], args[1:]...)
	cmd.Dir = b.dir
	log, err := os.Create(filepath.Join(b.dir, logName+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	b.procs = append(b.procs, cmd)
	return nil
}

// stop kills the processes and removes the NAT rule.
func (b *barePair) stop() {
	for _, p := range b.procs {
		p.Process.Kill()
		p.Wait()
	}
	b.run(b.d.lab.Provider, append([]string{"iptables", "-w", b.nat[0], b.nat[1], "-D"}, b.nat[2:]...)...)
}

// bareOpenVPN runs an openvpn server in the provider's namespace and a
// client in the consumer's, configured by hand with the cipher, tls-crypt
// and routing myst uses, and the same NAT; it returns once the client is up.
func (d *demo) bareOpenVPN(ctx context.Context) (stop func(), err error) {
	pki, err := openvpn.NewPKI("bare")
	if err != nil {
		return nil, err
	}
	port, err := freeUDPPortIn(d.lab.Provider)
	if err != nil {
		return nil, err
	}
	b, err := d.newBarePair("bare-openvpn", "198.19.200.0/24")
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"ca.crt": string(pki.CACert), "server.crt": string(pki.ServerCert), "server.key": string(pki.ServerKey),
		"tls-crypt.key": string(pki.TLSCryptKey), "creds.txt": "bare\nbare\n",
		"server.conf": strings.Join([]string{"dev tun", "topology subnet", "server 198.19.200.0 255.255.255.0", "proto udp4",
			fmt.Sprintf("port %d", port), "ca ca.crt", "cert server.crt", "key server.key", "dh none", "tls-crypt tls-crypt.key",
			"data-ciphers " + openvpn.Cipher, "verify-client-cert none", "username-as-common-name", "script-security 2",
			"auth-user-pass-verify /bin/true via-file", "disable-dco", "keepalive 2 10", `push "redirect-gateway def1"`, "verb 1", ""}, "\n"),
		"client.conf": strings.Join([]string{"client", "dev tun", "proto udp4", fmt.Sprintf("remote %s %d", netlab.ProviderIP, port), "nobind",
			"ca ca.crt", "tls-crypt tls-crypt.key", "remote-cert-tls server", "data-ciphers " + openvpn.Cipher,
			"auth-user-pass creds.txt", "disable-dco", "verb 3", ""}, "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(data), 0o600); err != nil {
			b.stop()
			return nil, err
		}
	}
	if err := b.start(d.lab.Provider, "server", "openvpn", "--config", "server.conf"); err != nil {
		b.stop()
		return nil, err
	}
	time.Sleep(200 * time.Millisecond) // the server binds its port
	if err := b.start(d.lab.Consumer, "client", "openvpn", "--config", "client.conf"); err != nil {
		b.stop()
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(b.dir, "client.log"))
		if strings.Contains(string(log), "Initialization Sequence Completed") {
			return b.stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.stop()
			return nil, fmt.Errorf("client not up after 20s:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeUDPPortIn(ns string) (int, error) {
	var port int
	err := netlab.In(ns, func() (err error) {
		port, err = openvpn.FreeUDPPort()
		return err
	})
	return port, err
}
