package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
)

// daemon is the provider's `myst daemon` process.
type daemon struct {
	proc   *netlab.Process
	client *api.Client
	addr   string // the API's host:port
}

var apiRE = regexp.MustCompile(`API on http://(\S+),`)

// cli runs a myst command and returns the last line of its output.
func cli(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("myst %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// startDaemon runs `myst daemon` on dataDir, its log in dataDir/daemon.log.
func startDaemon(ctx context.Context, bin string, global []string, dataDir string, extra ...string) (*daemon, error) {
	logPath := filepath.Join(dataDir, "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	args := append(append(append([]string{}, global...), "--api-addr", "127.0.0.1:0", "daemon"), extra...)
	p, addr, err := netlab.StartProcess(ctx, "", apiRE, 60*time.Second, logf, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("the provider daemon: %w (see %s)", err, logPath)
	}
	d := &daemon{proc: p, addr: addr}
	token, err := api.ReadToken(filepath.Join(dataDir, api.TokenFile))
	if err != nil {
		d.stop()
		return nil, err
	}
	d.client = api.NewClient(addr, token)
	return d, nil
}

// stop sends SIGTERM and waits (SIGKILL after 60 s); it returns how long
// the daemon took to exit.
func (d *daemon) stop() (time.Duration, error) {
	start := time.Now()
	err := d.proc.Stop(60 * time.Second)
	return time.Since(start), err
}

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	at  time.Time
	cpu time.Duration // user + system
	rss uint64        // bytes
	// anon and file split rss: the heap and stacks, and the mapped binary
	// and libraries.
	anon, file uint64
}

// sampleProc reads /proc/PID/stat and /proc/PID/status.
func sampleProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	s.cpu = time.Duration(ut+st) * time.Second / ticks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = kb << 10
		case "RssAnon":
			s.anon = kb << 10
		case "RssFile":
			s.file = kb << 10
		}
	}
	return s, nil
}

// sampler records a process's samples every interval until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []procSample
	stop    chan struct{}
	done    chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if p, err := sampleProc(pid); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, p)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) close() {
	close(s.stop)
	<-s.done
}

// between summarises the samples in [from, to]: peak and last RSS, and the
// CPU used as a share of one core.
func (s *sampler) between(from, to time.Time) (peak, last uint64, cpu float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, end *procSample
	for i := range s.samples {
		p := &s.samples[i]
		if p.at.Before(from) || p.at.After(to) {
			continue
		}
		if first == nil {
			first = p
		}
		end = p
		peak = max(peak, p.rss)
	}
	if first == nil || end == first {
		if end != nil {
			return peak, end.rss, 0
		}
		return 0, 0, 0
	}
	return peak, end.rss, float64(end.cpu-first.cpu) / float64(end.at.Sub(first.at))
}
