// Command myst-demo runs the main job on one machine: network namespaces for
// a consumer, a provider and a web host reachable only through the
// provider; myst localnet; a provider daemon offering wireguard (or
// openvpn with --service openvpn); a consumer daemon that finds it in
// discovery, connects and fetches a page from the web host. It prints what
// the web host saw and what was measured, then tears everything down.
// Needs root, iproute2, iptables and openvpn (and for --measure,
// wireguard-tools and a wireguard-go binary).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/openvpn"
)

var measureN, measureMiB int

// service is the demo session's service type.
var service string

func main() {
	mystBin := flag.String("myst", "myst", "the myst binary")
	flag.IntVar(&measureN, "measure", 0, "after the demo, measure N connects and the throughput of the raw link, a bare openvpn pair and myst's tunnel")
	flag.IntVar(&measureMiB, "measure-mib", 64, "MiB per throughput download (1-1024)")
	flag.StringVar(&service, "service", "wireguard", "the service type of the demo session: wireguard or openvpn")
	flag.StringVar(&wireguardGo, "wireguard-go", wireguardGo, "the wireguard-go program for --measure's bare pair")
	flag.Parse()
	if service != "wireguard" && service != "openvpn" {
		fmt.Fprintln(os.Stderr, "myst-demo: --service must be wireguard or openvpn")
		os.Exit(2)
	}
	if measureN < 0 || measureN > 100 || measureMiB < 1 || measureMiB > 1024 {
		fmt.Fprintln(os.Stderr, "myst-demo: --measure must be 0-100 and --measure-mib 1-1024")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *mystBin); err != nil {
		fmt.Fprintln(os.Stderr, "myst-demo:", err)
		os.Exit(1)
	}
}

// demo holds what must be torn down.
type demo struct {
	myst  string
	lab   *netlab.Lab
	dir   string
	procs []*netlab.Process
}

func step(format string, args ...any) { fmt.Printf("== "+format+"\n", args...) }

// cli runs a myst command inside namespace ns and returns its stdout.
func (d *demo) cli(ctx context.Context, ns string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, d.myst}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("myst %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// start runs a long-lived myst process in ns and waits for a stdout line
// matching ready; it returns the first submatch.
func (d *demo) start(ctx context.Context, ns, logName string, ready *regexp.Regexp, args ...string) (string, error) {
	logf, err := os.Create(filepath.Join(d.dir, logName+".log"))
	if err != nil {
		return "", err
	}
	defer logf.Close() // the process holds its own descriptor
	p, v, err := netlab.StartProcess(ctx, ns, ready, 60*time.Second, logf, d.myst, args...)
	if err != nil {
		log, _ := os.ReadFile(logf.Name())
		return "", fmt.Errorf("%s: %w:\n%s", logName, err, log)
	}
	d.procs = append(d.procs, p)
	return v, nil
}

func (d *demo) close() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		if err := d.procs[i].Stop(15 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "myst-demo: stop a myst process:", err)
		}
	}
	if d.lab != nil {
		if err := d.lab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "myst-demo: delete namespaces:", err)
		}
	}
	os.RemoveAll(d.dir)
}

var (
	localnetReady = regexp.MustCompile(`network file (\S+)$`)
	daemonReady   = regexp.MustCompile(`API on http://(\S+),`)
)

func run(ctx context.Context, mystBin string) error {
	if err := netlab.Available(); err != nil {
		return err
	}
	if _, err := openvpn.FindBinary(""); err != nil {
		return fmt.Errorf("%w (scripts/install.sh installs it)", err)
	}
	dir, err := os.MkdirTemp("", "myst-demo-")
	if err != nil {
		return err
	}
	d := &demo{myst: mystBin, dir: dir}
	defer d.close()

	step("network namespaces: consumer %s, provider %s, web host %s", netlab.ConsumerIP, netlab.ProviderIP, netlab.WebIP)
	if d.lab, err = netlab.New("md"); err != nil {
		return err
	}
	ln, err := netlab.Listen(d.lab.Web, netlab.WebIP+":80")
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var seen []string
	webMux := http.NewServeMux()
	webMux.HandleFunc("/bytes", netlab.BytesHandler)
	webMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		seen = append(seen, host)
		mu.Unlock()
		fmt.Fprintf(w, "<html><body>hello, visitor from %s</body></html>\n", host)
	})
	web := &http.Server{Handler: webMux}
	go web.Serve(ln)
	defer web.Close()
	webURL := "http://" + netlab.WebIP + "/"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: netlab.DialContext(d.lab.Consumer), DisableKeepAlives: true}}
	if _, err := client.Get(webURL); err == nil {
		return errors.New("the consumer reaches the web host without the tunnel: the lab is wrong")
	}
	fmt.Println("   without a tunnel the consumer can't reach the web host")

	step("myst localnet in the provider's namespace (chain, broker, discovery on %s)", netlab.ProviderIP)
	h := netlab.ProviderIP
	network, err := d.start(ctx, d.lab.Provider, "localnet", localnetReady, "localnet", "--data-dir", filepath.Join(dir, "localnet"),
		"--rpc-addr", h+":0", "--broker-addr", h+":0", "--discovery-addr", h+":0", "--stun-addr", h+":0")
	if err != nil {
		return err
	}
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("demo passphrase\n"), 0o600); err != nil {
		return err
	}
	ids := map[string]string{}
	apis := map[string]string{}
	nss := map[string]string{"provider": d.lab.Provider, "consumer": d.lab.Consumer}
	for _, role := range []string{"provider", "consumer"} {
		ns := nss[role]
		base := []string{"--data-dir", filepath.Join(dir, role), "--network", network}
		step("%s: create and register an identity", role)
		out, err := d.cli(ctx, ns, append(base, "identity", "new", "--passphrase-file", pass)...)
		if err != nil {
			return err
		}
		ids[role] = lastLine(out)
		out, err = d.cli(ctx, ns, append(base, "identity", "register", ids[role], "--passphrase-file", pass)...)
		if err != nil {
			return err
		}
		fmt.Print("   " + out)
		if role == "consumer" {
			step("consumer: get test tokens and deposit 10 MYSTT to pay with")
			if _, err := d.cli(ctx, ns, append(base, "payments", "fund", ids[role], "100")...); err != nil {
				return err
			}
			out, err := d.cli(ctx, ns, append(base, "payments", "deposit", "10", "--identity", ids[role], "--passphrase-file", pass)...)
			if err != nil {
				return err
			}
			fmt.Print("   " + out)
		}
		args := append(base, "--api-addr", "127.0.0.1:0", "daemon")
		if role == "provider" {
			args = append(args, "--public-ip", netlab.ProviderIP, "--country", "DE", "--city", "Berlin", "--openvpn-port", "0", "--openvpn-subnet", "198.19.0.0/17",
				"--wireguard-port", "0", "--wireguard-subnet", "198.19.128.0/18", "--invoice-every", "1s")
		}
		if apis[role], err = d.start(ctx, ns, role, daemonReady, args...); err != nil {
			return err
		}
		if _, err := d.cli(ctx, ns, "--data-dir", filepath.Join(dir, role), "--api-addr", apis[role], "identity", "unlock", ids[role], "--passphrase-file", pass); err != nil {
			return err
		}
	}
	P := []string{"--data-dir", filepath.Join(dir, "provider"), "--api-addr", apis["provider"]}
	C := []string{"--data-dir", filepath.Join(dir, "consumer"), "--api-addr", apis["consumer"]}

	step("provider starts a %s service and announces it", service)
	svc, err := d.cli(ctx, d.lab.Provider, append(P, "service", "start", service, "--identity", ids["provider"], "--price-hour", "0.01")...)
	if err != nil {
		return err
	}
	step("consumer searches discovery")
	out, err := d.cli(ctx, d.lab.Consumer, append(C, "proposals", "--service-type", service, "--country", "DE")...)
	if err != nil {
		return err
	}
	fmt.Print(indent(out))
	step("consumer connects")
	start := time.Now()
	if _, err := d.cli(ctx, d.lab.Consumer, append(C, "connect", ids["provider"], "--identity", ids["consumer"], "--service", service)...); err != nil {
		return err
	}
	resp, err := client.Get(webURL)
	if err != nil {
		return fmt.Errorf("fetch the page through the tunnel: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	connectTime := time.Since(start)
	fmt.Print(indent("page: " + string(page)))
	fmt.Println("   (the session runs for 3 s; the provider invoices every second, the consumer pays with signed promises)")
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	// openvpn reports byte counts every second (wireguard at once).
	var status string
	for deadline := time.Now().Add(5 * time.Second); ; {
		if status, err = d.cli(ctx, d.lab.Consumer, append(C, "status")...); err != nil {
			return err
		}
		if !strings.Contains(status, "received: 0 bytes") || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Print(indent(status))
	step("consumer disconnects; provider stops the service (settling on chain)")
	if _, err := d.cli(ctx, d.lab.Consumer, append(C, "disconnect")...); err != nil {
		return err
	}
	var earnings string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if earnings, err = d.cli(ctx, d.lab.Provider, append(P, "earnings", "--identity", ids["provider"])...); err != nil {
			return err
		}
		if strings.Contains(earnings, "unsettled: 0 MYSTT") {
			break
		}
	}
	fmt.Print(indent(earnings))
	if _, err := d.cli(ctx, d.lab.Provider, append(P, "service", "stop", lastLine(svc))...); err != nil {
		return err
	}
	mu.Lock()
	saw := strings.Join(seen, ", ")
	mu.Unlock()
	step("summary")
	fmt.Printf("   consumer address:            %s\n", netlab.ConsumerIP)
	fmt.Printf("   provider address:            %s (public), %s (towards the web host)\n", netlab.ProviderIP, netlab.ProviderWebIP)
	fmt.Printf("   the web host saw:            %s\n", saw)
	fmt.Printf("   connect to first page byte:  %s\n", connectTime.Round(time.Millisecond))
	for _, l := range strings.Split(status+"\n"+earnings, "\n") {
		if strings.HasPrefix(l, "received:") || strings.HasPrefix(l, "sent:") || strings.HasPrefix(l, "cost:") || strings.HasPrefix(l, "settled:") {
			fmt.Printf("   %-29s %s\n", strings.SplitN(l, ":", 2)[0]+":", strings.TrimSpace(strings.SplitN(l, ":", 2)[1]))
		}
	}
	if saw != netlab.ProviderWebIP {
		return fmt.Errorf("the web host saw %q, not the provider", saw)
	}
	if measureN > 0 {
		mclient := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: netlab.DialContext(d.lab.Consumer), DisableKeepAlives: true}}
		if err := d.measure(ctx, measureN, measureMiB<<20, ids, apis, mclient); err != nil {
			return err
		}
	}
	step("tearing down")
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("   " + l + "\n")
	}
	return b.String()
}
