// Package syscmd runs the host's own tools (ip, tc, iptables,
// ip6tables-restore, resolvconf, …) the one way myst runs them: the
// output captured, a failure wrapped in an *Error that names the command,
// its output and the Debian package to install when the tool is missing.
// What a tool says is matched as text only here, in one helper per tool,
// where that text is the only signal (IPTablesNoRule, IPExists), and `ip
// route get` is read in one place (RouteTo).
package syscmd

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
)

// packages names the Debian package of each tool myst runs.
var packages = map[string]string{
	"ip": "iproute2", "tc": "iproute2",
	"iptables": "iptables", "ip6tables": "iptables", "iptables-save": "iptables", "ip6tables-save": "iptables",
	"iptables-restore": "iptables", "ip6tables-restore": "iptables",
	"resolvconf": "openresolv", "resolvectl": "systemd-resolved", "nft": "nftables",
}

// Error is a tool that failed: it did not run, or exited non-zero.
type Error struct {
	Tool   string
	Args   []string
	Output string // stdout and stderr, trimmed
	Err    error  // *exec.ExitError, or exec.ErrNotFound wrapped
}

func (e *Error) Error() string {
	if errors.Is(e.Err, exec.ErrNotFound) {
		if p := packages[e.Tool]; p != "" {
			return fmt.Sprintf("%s not found: install the Debian package %s", e.Tool, p)
		}
		return fmt.Sprintf("%s not found: install it", e.Tool)
	}
	return fmt.Sprintf("%s %s: %v: %s", e.Tool, strings.Join(e.Args, " "), e.Err, e.Output)
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs tool with args and returns what it printed (stdout and
// stderr).
func Run(tool string, args ...string) ([]byte, error) {
	return RunInput(nil, tool, args...)
}

// RunInput is Run with stdin fed to the tool.
func RunInput(stdin []byte, tool string, args ...string) ([]byte, error) {
	cmd := exec.Command(tool, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, &Error{Tool: tool, Args: args, Output: string(bytes.TrimSpace(out)), Err: err}
	}
	return out, nil
}

// says reports whether err is a failure of one of tools whose output
// contains one of texts.
func says(err error, tools []string, texts ...string) bool {
	var e *Error
	if !errors.As(err, &e) || !slices.Contains(tools, e.Tool) {
		return false
	}
	for _, t := range texts {
		if strings.Contains(e.Output, t) {
			return true
		}
	}
	return false
}

// IPTablesNoRule reports whether iptables (or ip6tables) failed because
// the rule or chain it was to delete or flush is not there.
func IPTablesNoRule(err error) bool {
	return says(err, []string{"iptables", "ip6tables"}, "does a matching rule exist", "Bad rule", "No chain/target/match", "No chain", "does not exist")
}

// IPExists reports whether ip failed because what it was to add (a route,
// an address) exists already.
func IPExists(err error) bool { return says(err, []string{"ip"}, "File exists") }

// Route is how this host reaches an address, from `ip route get`.
type Route struct {
	Dev   string     // "" when there is no route
	Via   netip.Addr // the gateway; invalid on the interface's own link
	Local bool       // the address is this host's own
}

// RouteTo asks the kernel how it reaches addr.
func RouteTo(addr netip.Addr) (Route, error) {
	if !addr.IsValid() {
		return Route{}, errors.New("route to an invalid address")
	}
	out, err := Run("ip", "route", "get", addr.String())
	if err != nil {
		return Route{}, err
	}
	return ParseRoute(string(out)), nil
}

// ParseRoute reads `ip route get`'s answer.
func ParseRoute(out string) Route {
	var r Route
	f := strings.Fields(out)
	r.Local = len(f) > 0 && f[0] == "local"
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "dev":
			if r.Dev == "" {
				r.Dev = f[i+1]
			}
		case "via":
			if !r.Via.IsValid() {
				r.Via, _ = netip.ParseAddr(f[i+1])
			}
		}
	}
	return r
}
