package dialog

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/mystnode/myst/brokerd"
	"github.com/mystnode/myst/mysttest"
)

// TestAcrossNATSCluster runs the provider on one server of a three-server
// cluster and the consumer on another.
func TestAcrossNATSCluster(t *testing.T) {
	seed, err := brokerd.StartServer(brokerd.ServerConfig{Addr: "127.0.0.1:0", ClusterAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	servers := []*brokerd.Server{seed}
	for range 2 {
		s, err := brokerd.StartServer(brokerd.ServerConfig{Addr: "127.0.0.1:0", ClusterAddr: "127.0.0.1:0", Routes: []string{seed.RouteURL()}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		servers = append(servers, s)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		for _, s := range servers {
			if s.NumRoutes() < 2 {
				return false
			}
		}
		return true
	})
	// The provider's subscription reaches the consumer's server over the
	// route a moment after Listen; a provider listens long before its first
	// consumer in real life, here the two are back to back.
	p := newPairThen(t, servers[1].URL(), servers[2].URL(), func(p *pair) {
		mysttest.WaitFor(t, 10*time.Second, func() bool { return servers[2].HasInterest(CreateSubject(p.provider.Address(), p.consumer.Address())) })
	})
	for range 5 {
		if got, err := p.dialog.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("across")); err != nil || string(got) != "across" {
			t.Fatalf("echo across the cluster: %q, %v", got, err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestBrokerRestart stops the broker in the middle of a dialog: requests
// made while it is down fail by their deadline, never hang, and the dialog
// resumes once the broker is back.
func TestBrokerRestart(t *testing.T) {
	addr := freeAddr(t)
	srv, err := brokerd.StartServer(brokerd.ServerConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	p := newPair(t, srv.URL(), srv.URL())
	if _, err := p.dialog.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("before")); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = p.dialog.Request(ctx, "echo", []byte("during"))
	cancel()
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("request while the broker is down: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("request hung past its deadline")
	}
	srv, err = brokerd.StartServer(brokerd.ServerConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mysttest.WaitFor(t, 15*time.Second, func() bool { return p.pConn.IsConnected() && p.cConn.IsConnected() })
	// Subscriptions come back with the connection.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := p.dialog.Request(ctx, "echo", []byte("after"))
		cancel()
		if err == nil && string(got) == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dialog did not resume after the broker restarted: %v", err)
		}
	}
	// New dialogs open too.
	d, err := Dial(mysttest.Ctx(t, 5*time.Second), p.cConn, p.consumer, p.provider.Address(), p.reg, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}
