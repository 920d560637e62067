package openvpn

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is one openvpn program, run on a config file in its own folder
// and driven over the management socket there.
type process struct {
	dir    string
	cmd    *exec.Cmd
	mgmt   *mgmt
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// startProcess writes conf (plus the management socket line) to
// dir/confName, starts bin on it with its log in dir/openvpn.log (openvpn
// gets SIGTERM if the daemon dies; it runs as the daemon's user, with its
// capabilities), and connects to its management
// interface within 10 s or until it exits. notify gets the real-time
// lines.
func startProcess(ctx context.Context, bin, dir, confName string, conf []string, notify func(string)) (*process, error) {
	sock := filepath.Join(dir, "mgmt.sock")
	os.Remove(sock)
	conf = append(conf, fmt.Sprintf("management %s unix", sock))
	if err := os.WriteFile(filepath.Join(dir, confName), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "openvpn.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	p := &process{dir: dir, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config", confName)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start openvpn: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.exited:
			cancel()
		case <-mctx.Done():
		}
	}()
	if p.mgmt, err = dialMgmt(mctx, sock, notify); err != nil {
		p.stop()
		return nil, p.explain(err)
	}
	return p, nil
}

// explain adds where openvpn's own log is to err.
func (p *process) explain(err error) error {
	log, _ := os.ReadFile(filepath.Join(p.dir, "openvpn.log"))
	var last []string
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			last = append(last, l)
		}
	}
	if len(last) > 3 {
		last = last[len(last)-3:]
	}
	if len(last) == 0 {
		return err
	}
	// The log goes with the service's folder: its end is told here.
	return fmt.Errorf("%w; openvpn said: %s", err, strings.Join(last, " | "))
}

// stop asks openvpn to exit (over the management interface when
// connected), kills it after 5 s, and closes the management connection.
func (p *process) stop() {
	if p.mgmt != nil {
		p.mgmt.command("signal SIGTERM")
	} else {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	if p.mgmt != nil {
		p.mgmt.close()
	}
}
