package netlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// Coturn starts Debian's coturn (turnserver) in namespace ns ("" for this
// one) on UDP addr with the TURN REST shared secret (use-auth-secret) and
// realm myst, as an operator runs it for a myst network: no TLS, no TCP,
// no CLI; its pid file and database in dir. allowLoopback lets it relay
// to loopback peers (a test on one host). Its log goes to log.
func Coturn(ns, dir string, addr netip.AddrPort, secret string, allowLoopback bool, log io.Writer) (*Process, error) {
	if _, err := exec.LookPath("turnserver"); err != nil {
		return nil, errors.New("turnserver not found: install the Debian package coturn")
	}
	args := []string{"-n", "--listening-ip=" + addr.Addr().String(), "--listening-port=" + strconv.Itoa(int(addr.Port())),
		"--relay-ip=" + addr.Addr().String(), "--use-auth-secret", "--static-auth-secret=" + secret, "--realm=myst",
		"--no-cli", "--no-tls", "--no-dtls", "--no-tcp", "--no-tcp-relay", "--no-software-attribute", "--log-file=stdout", "--simple-log",
		"--pidfile=" + filepath.Join(dir, "turnserver.pid"), "--userdb=" + filepath.Join(dir, "turndb")}
	if allowLoopback {
		args = append(args, "--allow-loopback-peers")
	}
	p, _, err := StartProcess(context.Background(), ns, regexp.MustCompile(`Total General servers`), 15*time.Second, log, "turnserver", args...)
	if err != nil {
		return nil, fmt.Errorf("coturn: %w", err)
	}
	return p, nil
}
