package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mystnode/myst/localnet"
)

// nodeConfig is the node mode's flags.
type nodeConfig struct {
	bins []string // the myst binaries to compare (--myst, then --vs)
	runs int
	idle time.Duration
	dir  string
}

// nodeMain measures what the node costs a user: for each binary (side by
// side, in one run, against one localnet in this process) an idle provider
// daemon's resident memory --idle after its identity (standard scrypt) is
// unlocked and a noop service started, and the wall time and peak memory
// of `myst identity list` and `myst status` against it, the median of
// --runs each, the binaries taking turns.
func nodeMain(args []string) int {
	fs := flag.NewFlagSet("node", flag.ExitOnError)
	var c nodeConfig
	bin := fs.String("myst", "myst", "the myst binary")
	vs := fs.String("vs", "", "a second myst binary to measure beside it (for example the previous build)")
	fs.IntVar(&c.runs, "runs", 20, "runs of each CLI command (1-1000)")
	fs.DurationVar(&c.idle, "idle", 10*time.Second, "how long after unlock the idle daemon's memory is read (1s-10m)")
	fs.StringVar(&c.dir, "dir", "", "work directory (default: a new temporary one, removed at the end)")
	fs.Parse(args)
	if c.runs < 1 || c.runs > 1000 || c.idle < time.Second || c.idle > 10*time.Minute {
		return usage("--runs must be 1-1000 and --idle 1s-10m")
	}
	c.bins = []string{*bin}
	if *vs != "" {
		c.bins = append(c.bins, *vs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runNode(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "myst-load:", err)
		return 1
	}
	return 0
}

// nodeFigures are one binary's measurements.
type nodeFigures struct {
	bin                  string
	size                 int64
	idleRSS, anon, file  uint64
	cliTime              map[string][]time.Duration
	cliPeak              map[string][]uint64
	daemon               *daemon
	dataDir, global, pid string
}

func runNode(ctx context.Context, c nodeConfig, out io.Writer) error {
	dir := c.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "myst-load-node-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	fmt.Fprintln(os.Stderr, "== localnet (dev chain, broker, discovery) in this process")
	ln, err := localnet.Start(ctx, localnet.Config{DataDir: filepath.Join(dir, "net"), RPCAddr: "127.0.0.1:0", Fresh: true})
	if err != nil {
		return err
	}
	defer ln.Close()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("load-test-passphrase\n"), 0o600); err != nil {
		return err
	}
	var figs []*nodeFigures
	for i, bin := range c.bins {
		f, err := idleProvider(ctx, bin, filepath.Join(dir, fmt.Sprintf("node%d", i)), ln.Path(), pass, c.idle)
		if f != nil && f.daemon != nil {
			defer f.daemon.stop()
		}
		if err != nil {
			return err
		}
		figs = append(figs, f)
	}
	fmt.Fprintf(os.Stderr, "== the CLI against each daemon, %d runs of each command, the binaries taking turns\n", c.runs)
	for range c.runs {
		for _, f := range figs {
			for _, cmd := range [][]string{{"identity", "list"}, {"status"}} {
				d, peak, err := timeCLI(ctx, f.bin, append([]string{"--data-dir", f.dataDir, "--api-addr", f.daemon.addr}, cmd...)...)
				if err != nil {
					return err
				}
				name := "myst " + cmd[0]
				if len(cmd) > 1 {
					name += " " + cmd[1]
				}
				f.cliTime[name] = append(f.cliTime[name], d)
				f.cliPeak[name] = append(f.cliPeak[name], peak)
			}
		}
	}
	for _, f := range figs {
		fmt.Fprintf(out, "%s: binary %.1f MB; idle provider RSS %s (anonymous %s, file %s) %s after unlock with a noop service\n",
			f.bin, float64(f.size)/1e6, mib(f.idleRSS), mib(f.anon), mib(f.file), c.idle)
		for _, name := range []string{"myst identity list", "myst status"} {
			fmt.Fprintf(out, "%s: %s: median %s, peak RSS median %s (of %d runs)\n", f.bin, name,
				median(f.cliTime[name]).Round(10*time.Microsecond), mib(median(f.cliPeak[name])), len(f.cliTime[name]))
		}
	}
	return nil
}

// idleProvider creates and registers an identity with bin, starts its
// daemon, unlocks the identity, starts a noop service and reads the
// daemon's memory idle later.
func idleProvider(ctx context.Context, bin, dataDir, network, pass string, idle time.Duration) (*nodeFigures, error) {
	f := &nodeFigures{bin: bin, dataDir: dataDir, cliTime: map[string][]time.Duration{}, cliPeak: map[string][]uint64{}}
	st, err := os.Stat(bin)
	if err != nil {
		return nil, err
	}
	f.size = st.Size()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "== %s: identity, registration, daemon, unlock, noop service, then %s idle\n", bin, idle)
	global := []string{"--data-dir", dataDir, "--network", network}
	if f.pid, err = cli(ctx, bin, append(global, "identity", "new", "--passphrase-file", pass)...); err != nil {
		return nil, err
	}
	if _, err := cli(ctx, bin, append(global, "identity", "register", f.pid, "--passphrase-file", pass)...); err != nil {
		return nil, err
	}
	if f.daemon, err = startDaemon(ctx, bin, global, dataDir, "--country", "DE"); err != nil {
		return nil, err
	}
	api := []string{"--data-dir", dataDir, "--api-addr", f.daemon.addr}
	if _, err := cli(ctx, bin, append(api, "identity", "unlock", f.pid, "--passphrase-file", pass)...); err != nil {
		return f, err
	}
	unlocked := time.Now()
	if _, err := cli(ctx, bin, append(api, "service", "start", "noop", "--identity", f.pid)...); err != nil {
		return f, err
	}
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(time.Until(unlocked.Add(idle))):
	}
	s, err := sampleProc(f.daemon.proc.Pid())
	if err != nil {
		return f, err
	}
	f.idleRSS, f.anon, f.file = s.rss, s.anon, s.file
	return f, nil
}

// timeCLI runs bin with args and returns its wall time, then runs it again
// under GNU time for its peak resident memory: a child of this process
// would report this process's own peak (exec keeps the peak of the memory
// it replaces, and Go starts children with vfork).
func timeCLI(ctx context.Context, bin string, args ...string) (time.Duration, uint64, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %v: %w: %s", bin, args, err, out)
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "maxrss %M", bin}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("/usr/bin/time %s %v (Debian's package time): %w: %s", bin, args, err, stderr.String())
	}
	i := strings.LastIndex(stderr.String(), "maxrss ")
	if i < 0 {
		return 0, 0, fmt.Errorf("no maxrss in /usr/bin/time's output: %q", stderr.String())
	}
	kb, err := strconv.ParseUint(strings.TrimSpace(stderr.String()[i+len("maxrss "):]), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("maxrss in /usr/bin/time's output: %w", err)
	}
	return d, kb << 10, nil
}

func median[T time.Duration | uint64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
