package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
)

// daemonUID is the unprivileged user the provider daemon runs as (no
// passwd entry needed).
const daemonUID = 64990

// daemonCaps is the capability set of the README's systemd unit.
const daemonCaps = "net_admin,net_raw,net_bind_service"

// TestUnprivilegedProvider runs the provider daemon the way the README's
// systemd unit does: its own user, only daemonCaps (ambient and bounding),
// no new privileges. It serves an openvpn session end to end (NAT rules,
// the tunnel's DNS forwarder on port 53, openvpn as the same user), and
// stops cleanly, leaving no rules behind.
func TestUnprivilegedProvider(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	rulesBefore := natRules(t, lab)
	startDNSServer(t, lab.Web, netlab.WebIP+":53") // the provider host's resolver
	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)

	// The daemon's user must reach the binary, the network file and the
	// localnet's gas payer key (a development key), and own its data dir.
	for _, d := range []string{filepath.Dir(mystBin), ln.dataDir, filepath.Dir(ln.dataDir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chmod", "-R", "a+rX", ln.dataDir).CombinedOutput(); err != nil {
		t.Fatalf("chmod: %v: %s", err, out)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	pass := writeFile(t, dir, "pass", "pw\n")
	pdir := filepath.Join(dir, "provider")
	provider := newIdentityIn(t, lab.Provider, ln, pdir, pass, true)
	consumer := newIdentityIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", daemonUID, daemonUID), pdir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	// What an unprivileged daemon cannot do itself: set at boot.
	if _, err := lab.Output(lab.Provider, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}

	uid := fmt.Sprint(daemonUID)
	args := []string{"--reuid=" + uid, "--regid=" + uid, "--clear-groups",
		"--inh-caps=-all,+" + strings.ReplaceAll(daemonCaps, ",", ",+"),
		"--ambient-caps=-all,+" + strings.ReplaceAll(daemonCaps, ",", ",+"),
		"--bounding-set=-all,+" + strings.ReplaceAll(daemonCaps, ",", ",+"),
		"--no-new-privs", "--", mystBin,
		"--data-dir", pdir, "--network", ln.network, "--lightkdf", "--api-addr", "127.0.0.1:0", "daemon",
		"--public-ip", netlab.ProviderIP, "--openvpn-port", "0", "--openvpn-subnet", "198.19.0.0/16", "--country", "DE"}
	// This machine's /dev/net/tun is 0600 root; Debian's is 0666, which the
	// daemon and its openvpn get here: a node of the same device,
	// bind-mounted over it in the daemon's own mount namespace (ip netns
	// exec makes one).
	tun := filepath.Join(dir, "tun")
	if out, err := exec.Command("mknod", "-m", "0666", tun, "c", "10", "200").CombinedOutput(); err != nil {
		t.Fatalf("mknod: %v: %s", err, out)
	}
	if err := os.Chown(tun, daemonUID, daemonUID); err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	np, apiAddr, err := netlab.StartProcess(context.Background(), lab.Provider, readyRE, 30*time.Second, stderr,
		"sh", append([]string{"-c", `mount --bind "$0" /dev/net/tun && exec setpriv "$@"`, tun}, args...)...)
	if err != nil {
		t.Fatalf("the daemon under setpriv: %v\n%s", err, stderr.String())
	}
	p := &process{Process: np, stderr: stderr}
	t.Cleanup(func() { p.stop(t) })
	token, err := api.ReadToken(filepath.Join(pdir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	pd := &daemon{process: p, ns: lab.Provider, dataDir: pdir, apiAddr: apiAddr,
		client: api.NewClient(apiAddr, token).WithDialer(netlab.DialContext(lab.Provider))}
	pd.args = []string{"--data-dir", pdir, "--network", ln.network, "--lightkdf", "--api-addr", apiAddr}

	// It runs as that user with that set and nothing more.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", np.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Uid:\t" + uid + "\t" + uid, "CapEff:\t0000000000003400", "CapBnd:\t0000000000003400", "NoNewPrivs:\t1"} {
		if !strings.Contains(string(status), want) {
			t.Fatalf("daemon status lacks %q:\n%s", want, status)
		}
	}

	cd := startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	svc := mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider)...).lastLine()
	start := time.Now()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn")...)
	firstPage(t, lab, web, cd, start, time.Since(start))
	if got := resolve(lab); got != netlab.WebIP {
		t.Fatalf("web.test through the unprivileged provider's DNS: %q", got)
	}
	// openvpn runs as the daemon's user, with its capabilities only.
	ovpn := openvpnProcesses(pdir)
	if len(ovpn) != 1 {
		t.Fatalf("the provider's openvpn processes: %q", ovpn)
	}
	pid, _, _ := strings.Cut(ovpn[0], " ")
	st, _ := os.ReadFile("/proc/" + pid + "/status")
	if !strings.Contains(string(st), "Uid:\t"+uid+"\t"+uid) || !strings.Contains(string(st), "CapEff:\t0000000000003400") {
		t.Fatalf("the openvpn server does not run as the daemon's user with its capabilities:\n%s", st)
	}
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	p.stop(t)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after stop:\n%s\nbefore:\n%s", after, rulesBefore)
	}
}
