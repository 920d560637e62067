package openvpn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// mgmt is a connection to an openvpn management interface. Real-time
// notifications (lines starting with '>') go to notify, on a goroutine of
// their own so that a notification handler may send commands.
type mgmt struct {
	conn net.Conn

	cmdMu     sync.Mutex
	responses chan string

	notes    chan string
	done     chan struct{} // closed when the connection ended
	notified chan struct{} // closed when every notification was handled
	err      error
}

// dialMgmt connects to the management socket, retrying until ctx ends
// (openvpn creates the socket a moment after it starts).
func dialMgmt(ctx context.Context, path string, notify func(string)) (*mgmt, error) {
	var conn net.Conn
	for {
		var err error
		var d net.Dialer
		conn, err = d.DialContext(ctx, "unix", path)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("management interface %s: %w", path, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return newMgmt(conn, notify), nil
}

// newMgmt drives the management interface on conn.
func newMgmt(conn net.Conn, notify func(string)) *mgmt {
	m := &mgmt{conn: conn, responses: make(chan string, 1), notes: make(chan string, 256), done: make(chan struct{}), notified: make(chan struct{})}
	go m.read()
	go func() {
		defer close(m.notified)
		for line := range m.notes {
			notify(line)
		}
	}()
	return m
}

func (m *mgmt) read() {
	defer close(m.done)
	defer close(m.notes)
	sc := bufio.NewScanner(m.conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, ">"):
			m.notes <- line
		case strings.HasPrefix(line, "SUCCESS:"), strings.HasPrefix(line, "ERROR:"):
			select {
			case m.responses <- line:
			default:
			}
		}
	}
	m.err = sc.Err()
	if m.err == nil {
		m.err = errors.New("management interface closed")
	}
}

// command sends one single-line command and waits for SUCCESS or ERROR.
func (m *mgmt) command(cmd string) (string, error) {
	m.cmdMu.Lock()
	defer m.cmdMu.Unlock()
	if _, err := fmt.Fprintf(m.conn, "%s\n", cmd); err != nil {
		return "", fmt.Errorf("management %q: %w", firstWord(cmd), err)
	}
	select {
	case r := <-m.responses:
		if strings.HasPrefix(r, "ERROR:") {
			return r, fmt.Errorf("management %q: %s", firstWord(cmd), strings.TrimSpace(strings.TrimPrefix(r, "ERROR:")))
		}
		return r, nil
	case <-m.done:
		return "", fmt.Errorf("management %q: %v", firstWord(cmd), m.err)
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("management %q: no answer in 10s", firstWord(cmd))
	}
}

func (m *mgmt) close() {
	m.conn.Close()
	<-m.done
	<-m.notified
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// quote escapes a string for a management command argument.
func quote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
