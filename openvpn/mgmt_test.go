package openvpn

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeOpenVPN is openvpn's end of a management connection: it answers
// each command with what answer returns and records the commands.
type fakeOpenVPN struct {
	conn net.Conn
	mu   sync.Mutex
	cmds []string
	done chan struct{}
}

func newFakeOpenVPN(t *testing.T, answer func(cmd string) string) (*fakeOpenVPN, net.Conn) {
	ours, theirs := net.Pipe()
	f := &fakeOpenVPN{conn: theirs, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(theirs)
		for sc.Scan() {
			f.mu.Lock()
			f.cmds = append(f.cmds, sc.Text())
			f.mu.Unlock()
			if _, err := fmt.Fprintf(theirs, "%s\r\n", answer(sc.Text())); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { theirs.Close(); <-f.done })
	return f, ours
}

// say writes real-time lines as openvpn would.
func (f *fakeOpenVPN) say(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := fmt.Fprintf(f.conn, "%s\r\n", l); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fakeOpenVPN) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

func success(string) string { return "SUCCESS: ok" }

func TestMgmtCommandsAndNotifications(t *testing.T) {
	var mu sync.Mutex
	var notes []string
	f, conn := newFakeOpenVPN(t, func(cmd string) string {
		if strings.HasPrefix(cmd, "bad") {
			return "ERROR: unknown command"
		}
		return "SUCCESS: " + cmd
	})
	m := newMgmt(conn, func(l string) { mu.Lock(); notes = append(notes, l); mu.Unlock() })

	if r, err := m.command("state on"); err != nil || r != "SUCCESS: state on" {
		t.Fatalf("command: %q, %v", r, err)
	}
	if _, err := m.command("bad thing"); err == nil || !strings.Contains(err.Error(), "unknown command") || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("ERROR answer: %v", err)
	}
	// Notifications arrive in order, without the \r, and lines that are
	// neither notifications nor answers are ignored.
	f.say(t, ">STATE:1,CONNECTING,,,,,,", "some banner line", ">BYTECOUNT:10,20")
	mysttest.WaitFor(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(notes) == 2 })
	if notes[0] != ">STATE:1,CONNECTING,,,,,," || notes[1] != ">BYTECOUNT:10,20" {
		t.Fatalf("notifications %q", notes)
	}
	m.close()
	if _, err := m.command("state on"); err == nil {
		t.Fatal("command after close succeeded")
	}
}

func TestMgmtQuote(t *testing.T) {
	if got := quote(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Fatalf("quote = %s", got)
	}
}

func TestServerApprovesAndDeniesClients(t *testing.T) {
	f, conn := newFakeOpenVPN(t, success)
	s := &Server{cfg: ServerConfig{Authorize: func(user, pass string) (string, error) {
		if pass != "good" {
			return "", errors.New(`bad "password"` + "\nsecond line")
		}
		return "session-" + user, nil
	}}, clients: map[string]*serverClient{}}
	s.cfg.Logger = discard()
	s.mgmt = newMgmt(conn, s.notify)
	defer s.mgmt.close()

	f.say(t, ">CLIENT:CONNECT,7,1", ">CLIENT:ENV,username=alice", ">CLIENT:ENV,password=good", ">CLIENT:ENV,END")
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(f.commands()) == 1 })
	if got := f.commands()[0]; got != "client-auth-nt 7 1" {
		t.Fatalf("approval %q", got)
	}
	f.say(t, ">BYTECOUNT_CLI:7,100,200")
	mysttest.WaitFor(t, 5*time.Second, func() bool { in, out := s.Bytes("session-alice"); return in == 100 && out == 200 })

	// A second client for the same session, and a wrong password, are denied
	// with a one-line reason.
	f.say(t, ">CLIENT:CONNECT,8,1", ">CLIENT:ENV,username=alice", ">CLIENT:ENV,password=good", ">CLIENT:ENV,END")
	f.say(t, ">CLIENT:CONNECT,9,1", ">CLIENT:ENV,username=bob", ">CLIENT:ENV,password=bad", ">CLIENT:ENV,END")
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(f.commands()) == 3 })
	cmds := strings.Join(f.commands()[1:], "\n")
	if !strings.Contains(cmds, `client-deny 8 1 "the session is already connected"`) ||
		!strings.Contains(cmds, `client-deny 9 1 "bad 'password' second line"`) {
		t.Fatalf("denials:\n%s", cmds)
	}

	// Kill disconnects the session's client; a disconnect forgets it.
	s.Kill("session-alice")
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(f.commands()) == 4 })
	if got := f.commands()[3]; got != "client-kill 7" {
		t.Fatalf("kill %q", got)
	}
	if in, _ := s.Bytes("session-alice"); in != 0 {
		t.Fatal("killed client still counted")
	}
	// Malformed lines change nothing.
	f.say(t, ">CLIENT:CONNECT,", ">CLIENT:ENV,END", ">BYTECOUNT_CLI:7,x", ">CLIENT:DISCONNECT,99")
}

func TestClientFollowsOpenVPN(t *testing.T) {
	f, conn := newFakeOpenVPN(t, success)
	c := NewClient(ClientOptions{Username: "0xabc", Password: func(sid string) (string, error) { return sid + ":sig", nil }})
	c.sessionID = "s1"
	c.connected, c.authFail, c.down = make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.mgmt = newMgmt(conn, c.notify)
	defer c.mgmt.close()

	f.say(t, ">PASSWORD:Need 'Auth' username/password")
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(f.commands()) == 2 })
	if got := f.commands(); got[0] != `username "Auth" "0xabc"` || got[1] != `password "Auth" "s1:sig"` {
		t.Fatalf("credentials %q", got)
	}
	f.say(t, ">STATE:1700000000,CONNECTED,SUCCESS,10.88.0.2,198.18.1.1,1194,,", ">BYTECOUNT:1000,2000")
	select {
	case <-c.connected:
	case <-time.After(5 * time.Second):
		t.Fatal("CONNECTED state not seen")
	}
	mysttest.WaitFor(t, 5*time.Second, func() bool {
		st := c.Stats()
		return st.BytesIn == 1000 && st.BytesOut == 2000 && st.TunnelIP == "10.88.0.2"
	})

	// The tunnel going down after it was up closes Down.
	f.say(t, ">STATE:1700000001,RECONNECTING,ping-restart,,,,,")
	select {
	case <-c.Down():
	case <-time.After(5 * time.Second):
		t.Fatal("Down not closed after RECONNECTING")
	}
	f.say(t, ">PASSWORD:Verification Failed: 'Auth'")
	select {
	case <-c.authFail:
	case <-time.After(5 * time.Second):
		t.Fatal("auth failure not seen")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
