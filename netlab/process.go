package netlab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// Process is a long-running program of a test or the demo, started by
// StartProcess.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// StartProcess runs name with args inside namespace ns ("" for this one),
// its stderr going to stderr, and waits until a line of its stdout matches
// ready, the process exits, timeout passes or ctx ends. It returns the
// line's first submatch (the whole line if ready has no group). Stdout is
// drained until the process exits.
func StartProcess(ctx context.Context, ns string, ready *regexp.Regexp, timeout time.Duration, stderr io.Writer, name string, args ...string) (*Process, string, error) {
	cmd := exec.Command(name, args...)
	if ns != "" {
		// ip netns exec execs the program: the pid is the program's.
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[len(m)-1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case v := <-found:
		return p, v, nil
	case <-p.exited:
		return nil, "", fmt.Errorf("%s %s exited before it was ready: %v", name, strings.Join(args, " "), p.err)
	case <-ctx.Done():
		p.Stop(5 * time.Second)
		return nil, "", ctx.Err()
	case <-time.After(timeout):
		p.Stop(5 * time.Second)
		return nil, "", fmt.Errorf("%s %s not ready after %s", name, strings.Join(args, " "), timeout)
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the process exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM and waits up to grace for the process to exit, then
// kills it. It returns the exit status (nil for a clean exit) or an error
// saying it had to be killed.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("still running %s after SIGTERM; killed", grace)
	}
}

// Kill sends SIGKILL (a crash) and waits for the process to exit.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Start runs name with args inside namespace ns without waiting for
// anything; its stdout and stderr go to out.
func Start(ns string, out io.Writer, name string, args ...string) (*Process, error) {
	cmd := exec.Command(name, args...)
	if ns != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}
