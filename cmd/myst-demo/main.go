// Command myst-demo runs the main job on one machine: network namespaces for
// a consumer, a provider and a web host reachable only through the
// provider, and a resolver that names the web host; myst-net localnet; a provider daemon offering wireguard (or
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

// resolverMode is the lab's resolver: "on" answers the web host's name;
// "off" runs none (the provider's names fail at once) and "silent" one
// that never answers (they time out): connect waits for neither.
var resolverMode string

func main() {
	mystBin := flag.String("myst", "myst", "the myst binary (the node)")
	mystNetBin := flag.String("myst-net", "", "the myst-net binary (the network side; default: myst-net beside --myst)")
	flag.IntVar(&measureN, "measure", 0, "after the demo, measure N connects and the throughput of the raw link, a bare openvpn pair and myst's tunnel")
	flag.IntVar(&measureMiB, "measure-mib", 64, "MiB per throughput download (1-1024)")
	flag.StringVar(&service, "service", "wireguard", "the service type of the demo session: wireguard or openvpn")
	flag.StringVar(&resolverMode, "resolver", "on", "the lab's resolver: on, off (the provider's names fail) or silent (they time out); connect waits for neither, status says so")
	flag.StringVar(&wireguardGo, "wireguard-go", wireguardGo, "the wireguard-go program for --measure's bare pair")
	flag.Parse()
	if resolverMode != "on" && resolverMode != "off" && resolverMode != "silent" {
		fmt.Fprintln(os.Stderr, "myst-demo: --resolver must be on, off or silent")
		os.Exit(2)
	}
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
	if *mystNetBin == "" {
		*mystNetBin = filepath.Join(filepath.Dir(*mystBin), "myst-net")
	}
	if err := run(ctx, *mystBin, *mystNetBin); err != nil {
		fmt.Fprintln(os.Stderr, "myst-demo:", err)
		os.Exit(1)
	}
}

// demo holds the run's state and what must be torn down.
type demo struct {
	myst, mystNet string
	lab           *netlab.Lab
	web           *webHost
	resolver      *netlab.Resolver
	silent        net.PacketConn // the silent resolver's socket
	client        *http.Client   // HTTP from the consumer's namespace
	dir           string
	procs         []*netlab.Process
	network, pass string            // network.json and the passphrase file
	ids, apis     map[string]string // by role: identity, API address
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
func (d *demo) start(ctx context.Context, bin, ns, logName string, ready *regexp.Regexp, args ...string) (string, error) {
	logf, err := os.Create(filepath.Join(d.dir, logName+".log"))
	if err != nil {
		return "", err
	}
	defer logf.Close() // the process holds its own descriptor
	p, v, err := netlab.StartProcess(ctx, ns, ready, 60*time.Second, logf, bin, args...)
	if err != nil {
		log, _ := os.ReadFile(logf.Name())
		return "", fmt.Errorf("%s: %w:\n%s", logName, err, log)
	}
	d.procs = append(d.procs, p)
	return v, nil
}

func (d *demo) close() {
	if d.web != nil {
		d.web.srv.Close()
	}
	if d.resolver != nil {
		d.resolver.Close()
	}
	if d.silent != nil {
		d.silent.Close()
	}
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

func run(ctx context.Context, mystBin, mystNetBin string) error {
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
	d := &demo{myst: mystBin, mystNet: mystNetBin, dir: dir, ids: map[string]string{}, apis: map[string]string{}}
	defer d.close()
	if err := d.buildLab(); err != nil {
		return err
	}
	if err := d.startNetwork(ctx); err != nil {
		return err
	}
	for _, role := range []string{"provider", "consumer"} {
		if err := d.startNode(ctx, role); err != nil {
			return err
		}
	}
	r, err := d.session(ctx)
	if err != nil {
		return err
	}
	r.print()
	if saw := d.web.visitors(); saw != netlab.ProviderWebIP {
		return fmt.Errorf("the web host saw %q, not the provider", saw)
	}
	if resolverMode == "on" && r.resolved != netlab.WebIP {
		return fmt.Errorf("%s resolved to %q through the tunnel, not %s", netlab.WebName, r.resolved, netlab.WebIP)
	}
	if measureN > 0 {
		mclient := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: netlab.DialContext(d.lab.Consumer), DisableKeepAlives: true}}
		if err := d.measure(ctx, measureN, measureMiB<<20, d.ids, d.apis, mclient); err != nil {
			return err
		}
	}
	step("tearing down")
	return nil
}

// webHost is the lab's web server: it answers with the address it saw and
// remembers every visitor.
type webHost struct {
	srv  *http.Server
	mu   sync.Mutex
	seen []string
}

func (h *webHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/bytes" {
		netlab.BytesHandler(w, r)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	h.mu.Lock()
	h.seen = append(h.seen, host)
	h.mu.Unlock()
	fmt.Fprintf(w, "<html><body>hello, visitor from %s</body></html>\n", host)
}

func (h *webHost) visitors() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.seen, ", ")
}

// buildLab makes the namespaces, the web host and the lab's resolver (the
// one the provider's host uses), and checks the consumer cannot reach the
// web host without a tunnel.
func (d *demo) buildLab() (err error) {
	step("network namespaces: consumer %s, provider %s, web host %s (%s)", netlab.ConsumerIP, netlab.ProviderIP, netlab.WebIP, netlab.WebName)
	if d.lab, err = netlab.New("md"); err != nil {
		return err
	}
	ln, err := netlab.Listen(d.lab.Web, netlab.WebIP+":80")
	if err != nil {
		return err
	}
	d.web = &webHost{}
	d.web.srv = &http.Server{Handler: d.web}
	go d.web.srv.Serve(ln)
	switch resolverMode {
	case "on":
		if d.resolver, err = netlab.StartResolver(d.lab.Web, netlab.WebIP+":53"); err != nil {
			return fmt.Errorf("the lab's resolver: %w", err)
		}
	case "silent":
		// Reads every question and answers none.
		var pc net.PacketConn
		if err := netlab.In(d.lab.Web, func() (err error) { pc, err = net.ListenPacket("udp", netlab.WebIP+":53"); return err }); err != nil {
			return fmt.Errorf("the lab's silent resolver: %w", err)
		}
		d.silent = pc
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
	}
	d.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: netlab.DialContext(d.lab.Consumer), DisableKeepAlives: true}}
	if _, err := d.client.Get("http://" + netlab.WebIP + "/"); err == nil {
		return errors.New("the consumer reaches the web host without the tunnel: the lab is wrong")
	}
	fmt.Println("   without a tunnel the consumer can't reach the web host")
	return nil
}

// startNetwork runs myst-net localnet in the provider's namespace.
func (d *demo) startNetwork(ctx context.Context) (err error) {
	step("myst-net localnet in the provider's namespace (chain, broker, discovery on %s)", netlab.ProviderIP)
	h := netlab.ProviderIP
	d.network, err = d.start(ctx, d.mystNet, d.lab.Provider, "localnet", localnetReady, "localnet", "--data-dir", filepath.Join(d.dir, "localnet"),
		"--rpc-addr", h+":0", "--broker-addr", h+":0", "--discovery-addr", h+":0", "--stun-addr", h+":0")
	if err != nil {
		return err
	}
	d.pass = filepath.Join(d.dir, "passphrase")
	return os.WriteFile(d.pass, []byte("demo passphrase\n"), 0o600)
}

// startNode creates and registers role's identity (the consumer also gets
// test tokens and deposits), starts its daemon and unlocks the identity.
func (d *demo) startNode(ctx context.Context, role string) error {
	ns := map[string]string{"provider": d.lab.Provider, "consumer": d.lab.Consumer}[role]
	base := []string{"--data-dir", filepath.Join(d.dir, role), "--network", d.network}
	step("%s: create and register an identity", role)
	out, err := d.cli(ctx, ns, append(base, "identity", "new", "--passphrase-file", d.pass)...)
	if err != nil {
		return err
	}
	id := lastLine(out)
	d.ids[role] = id
	out, err = d.cli(ctx, ns, append(base, "identity", "register", id, "--passphrase-file", d.pass)...)
	if err != nil {
		return err
	}
	fmt.Print("   " + out)
	if role == "consumer" {
		step("consumer: get test tokens and deposit 10 MYSTT to pay with")
		if _, err := d.cli(ctx, ns, append(base, "payments", "fund", id, "100")...); err != nil {
			return err
		}
		out, err := d.cli(ctx, ns, append(base, "payments", "deposit", "10", "--identity", id, "--passphrase-file", d.pass)...)
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
	if d.apis[role], err = d.start(ctx, d.myst, ns, role, daemonReady, args...); err != nil {
		return err
	}
	_, err = d.cli(ctx, ns, "--data-dir", filepath.Join(d.dir, role), "--api-addr", d.apis[role], "identity", "unlock", id, "--passphrase-file", d.pass)
	return err
}

// result is what the demo session showed.
type result struct {
	connectTime      time.Duration
	resolved         string // the web host's name, looked up through the tunnel
	resolvedBy       string // who asked the lab's resolver
	status, earnings string
	saw              string
}

// session runs the user's story: the provider offers a priced service,
// the consumer finds and connects to it, resolves the web host's name and
// fetches its page through the tunnel, keeps the session 3 s, disconnects;
// the provider settles and stops.
func (d *demo) session(ctx context.Context) (*result, error) {
	P := []string{"--data-dir", filepath.Join(d.dir, "provider"), "--api-addr", d.apis["provider"]}
	C := []string{"--data-dir", filepath.Join(d.dir, "consumer"), "--api-addr", d.apis["consumer"]}
	r := &result{}
	step("provider starts a %s service and announces it", service)
	svc, err := d.cli(ctx, d.lab.Provider, append(P, "service", "start", service, "--identity", d.ids["provider"], "--price-hour", "0.01")...)
	if err != nil {
		return nil, err
	}
	step("consumer searches discovery")
	out, err := d.cli(ctx, d.lab.Consumer, append(C, "proposals", "--service-type", service, "--country", "DE")...)
	if err != nil {
		return nil, err
	}
	fmt.Print(indent(out))
	step("consumer connects")
	start := time.Now()
	if _, err := d.cli(ctx, d.lab.Consumer, append(C, "connect", d.ids["provider"], "--identity", d.ids["consumer"], "--service", service)...); err != nil {
		return nil, err
	}
	resp, err := d.client.Get("http://" + netlab.WebIP + "/")
	if err != nil {
		return nil, fmt.Errorf("fetch the page through the tunnel: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.connectTime = time.Since(start)
	fmt.Print(indent("page: " + string(page)))
	// The consumer's resolver is now the provider's, inside the tunnel; the
	// provider asks its own host's resolver.
	if d.resolver != nil {
		asked := len(d.resolver.AskedBy())
		if out, err := d.lab.Output(d.lab.Consumer, "getent", "ahostsv4", netlab.WebName); err == nil && len(strings.Fields(out)) > 0 {
			r.resolved = strings.Fields(out)[0]
		}
		if by := d.resolver.AskedBy(); len(by) > asked {
			r.resolvedBy = by[len(by)-1]
		}
	}
	fmt.Printf("   %s resolves to %s through the tunnel (the lab's resolver was asked by %s)\n", netlab.WebName, r.resolved, r.resolvedBy)
	fmt.Println("   (the session runs for 3 s; the provider invoices every second, the consumer pays with signed promises)")
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// openvpn reports byte counts every second (wireguard at once).
	for deadline := time.Now().Add(5 * time.Second); ; {
		if r.status, err = d.cli(ctx, d.lab.Consumer, append(C, "status")...); err != nil {
			return nil, err
		}
		if !strings.Contains(r.status, "received: 0 bytes") || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Print(indent(r.status))
	step("consumer disconnects; provider stops the service (settling on chain)")
	if _, err := d.cli(ctx, d.lab.Consumer, append(C, "disconnect")...); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if r.earnings, err = d.cli(ctx, d.lab.Provider, append(P, "earnings", "--identity", d.ids["provider"])...); err != nil {
			return nil, err
		}
		if strings.Contains(r.earnings, "unsettled: 0 MYSTT") {
			break
		}
	}
	fmt.Print(indent(r.earnings))
	if _, err := d.cli(ctx, d.lab.Provider, append(P, "service", "stop", lastLine(svc))...); err != nil {
		return nil, err
	}
	r.saw = d.web.visitors()
	return r, nil
}

func (r *result) print() {
	step("summary")
	fmt.Printf("   consumer address:            %s\n", netlab.ConsumerIP)
	fmt.Printf("   provider address:            %s (public), %s (towards the web host)\n", netlab.ProviderIP, netlab.ProviderWebIP)
	fmt.Printf("   the web host saw:            %s\n", r.saw)
	fmt.Printf("   %-29s %s (asked through the tunnel; the resolver saw %s)\n", netlab.WebName+" resolved to:", r.resolved, r.resolvedBy)
	fmt.Printf("   connect to first page byte:  %s\n", r.connectTime.Round(time.Millisecond))
	for _, l := range strings.Split(r.status+"\n"+r.earnings, "\n") {
		if strings.HasPrefix(l, "received:") || strings.HasPrefix(l, "sent:") || strings.HasPrefix(l, "cost:") || strings.HasPrefix(l, "settled:") {
			fmt.Printf("   %-29s %s\n", strings.SplitN(l, ":", 2)[0]+":", strings.TrimSpace(strings.SplitN(l, ":", 2)[1]))
		}
	}
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
