package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
)

// BenchmarkRelay measures the relay side by side with the direct path, in
// one run, on a lab internet: a wireguard provider on a public address
// (direct), one behind a symmetric router (relayed through `myst-net
// relay`, run apart so its CPU can be read), one behind a cone router
// (relayed at once, then direct), and a consumer behind a cone router.
// It reports the relayed connect time and the time to move to the direct
// path (medians of 5), download throughput through the tunnel direct and
// relayed, uncapped and with the consumer's link capped at 100 Mbit/s by
// tc, and the relay's CPU per Gbit relayed.
//
//	go test ./e2e -run '^$' -bench Relay -benchtime 1x
func BenchmarkRelay(b *testing.B) {
	lab := newSites(b, "mb", netlab.SitePublic, netlab.SiteSymmetric, netlab.SiteCone, netlab.SiteCone)
	pub, sym, cone, cs := lab.Sites[0], lab.Sites[1], lab.Sites[2], lab.Sites[3]
	dir := b.TempDir()
	secret := writeFile(b, dir, "relay.secret", "5c2e8a1f7d3b9e0c4a6f2d8b1e7c3a9f\n")
	rp, url := startProcessOf(b, mystNetBin, lab.Internet, relayReadyRE, 20*time.Second, "relay", "--addr", netlab.InternetIP+":0", "--secret-file", secret, "--max-mbit", "0")
	ln := startLocalnetIn(b, lab.Internet, netlab.InternetIP, "--relay-url", url, "--relay-secret-file", secret)
	web := startSitesWeb(b, lab)
	pass := writeFile(b, dir, "pass", "pw\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	ids := map[*netlab.Site]string{}
	var consumer *daemon
	for i, s := range []*netlab.Site{pub, sym, cone, cs} {
		d := filepath.Join(dir, fmt.Sprint(i))
		ids[s] = newIdentityIn(b, s.Host, ln, d, pass, true)
		dm := startDaemonIn(b, s.Host, ln, d, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
		mustMystIn(b, s.Host, append(dm.args, "identity", "unlock", ids[s], "--passphrase-file", pass)...)
		if s == cs {
			consumer = dm
			continue
		}
		mustMystIn(b, s.Host, append(dm.args, "service", "start", "wireguard", "--identity", ids[s])...)
	}
	on := true
	connect := func(p *netlab.Site) (api.Connection, time.Duration) {
		b.Helper()
		began := time.Now()
		c, err := consumer.client.Connect(ctx, api.ConnectionRequest{ConsumerID: ids[cs], ProviderID: ids[p], ServiceType: "wireguard", KillSwitch: &on, DNS: "system"})
		if err != nil {
			b.Fatalf("connect to the %s provider: %v\n%s", p.Kind, err, consumer.stderr.String())
		}
		return c, time.Since(began)
	}
	disconnect := func() {
		if _, err := consumer.client.Disconnect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	median := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }

	var relayed, toDirect []time.Duration
	for range 5 {
		c, took := connect(sym)
		if c.Path != "relayed" {
			b.Fatalf("path %q to the symmetric provider", c.Path)
		}
		relayed = append(relayed, took)
		disconnect()
		connect(cone)
		began := time.Now()
		for {
			now, err := consumer.client.Connection(ctx)
			if err == nil && now.Path == "direct" {
				break
			}
			if time.Since(began) > 10*time.Second {
				b.Fatalf("no direct path 10 s after a relayed start: %+v", now)
			}
			time.Sleep(5 * time.Millisecond)
		}
		toDirect = append(toDirect, time.Since(began))
		disconnect()
	}

	// download fetches mib MiB through the tunnel and gives Mbit/s.
	download := func(mib int) float64 {
		b.Helper()
		began := time.Now()
		resp, err := httpFrom(cs.Host, 5*time.Minute).Get(fmt.Sprintf("%s/zero?mib=%d", web, mib))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != int64(mib)<<20 {
			b.Fatalf("downloaded %d of %d MiB: %v", n>>20, mib, err)
		}
		return float64(n*8) / time.Since(began).Seconds() / 1e6
	}
	cpu := func() float64 { return cpuSeconds(b, rp.Pid()) }
	type figure struct {
		direct, relayed float64
		relayCPU        float64 // seconds per Gbit
	}
	measure := func(mib int) figure {
		var f figure
		connect(pub)
		f.direct = download(mib)
		disconnect()
		connect(sym)
		c0 := cpu()
		f.relayed = download(mib)
		f.relayCPU = (cpu() - c0) / (float64(mib<<20) * 8 / 1e9)
		disconnect()
		return f
	}
	uncapped := measure(256)
	if _, err := lab.Output(lab.Internet, "tc", "qdisc", "add", "dev", cs.Link, "root", "tbf", "rate", "100mbit", "burst", "128kb", "latency", "50ms"); err != nil {
		b.Fatal(err)
	}
	capped := measure(48)
	lab.Output(lab.Internet, "tc", "qdisc", "del", "dev", cs.Link, "root")

	b.ReportMetric(float64(median(relayed).Microseconds())/1000, "relayed-connect-ms")
	b.ReportMetric(float64(median(toDirect).Microseconds())/1000, "to-direct-ms")
	b.ReportMetric(uncapped.direct, "direct-Mbit/s")
	b.ReportMetric(uncapped.relayed, "relayed-Mbit/s")
	b.ReportMetric(capped.direct, "capped-direct-Mbit/s")
	b.ReportMetric(capped.relayed, "capped-relayed-Mbit/s")
	b.ReportMetric(100*capped.relayed/capped.direct, "capped-relayed-%")
	b.ReportMetric(uncapped.relayCPU, "relay-CPU-s/Gbit")
	b.Logf("relayed connect median %s %v; relayed start to direct median %s %v", median(relayed).Round(time.Millisecond), relayed, median(toDirect).Round(time.Millisecond), toDirect)
	b.Logf("uncapped: direct %.0f Mbit/s, relayed %.0f Mbit/s (%.0f %%); relay CPU %.2f s per Gbit (%.0f %% of a core at 1 Gbit/s)",
		uncapped.direct, uncapped.relayed, 100*uncapped.relayed/uncapped.direct, uncapped.relayCPU, 100*uncapped.relayCPU)
	b.Logf("capped at 100 Mbit/s: direct %.1f Mbit/s, relayed %.1f Mbit/s (%.0f %%)", capped.direct, capped.relayed, 100*capped.relayed/capped.direct)
}

// cpuSeconds is the user and system CPU time process pid has used.
func cpuSeconds(t testing.TB, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's closing parenthesis; utime and stime are
	// the 14th and 15th of the whole line, in clock ticks (100 a second).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}
