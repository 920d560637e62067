package node

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/servicetypes"
	"github.com/mystnode/myst/stun"
)

// TestDetectNAT: a node learns its public side from the network's STUN
// servers at start (on loopback: public, 127.0.0.1); a network whose STUN
// servers say nothing, or answer garbage, leaves it "unknown" with the
// reasons, and a tunnel service then refuses to start saying what to do;
// (natwatch.TestReachable: a consumer is refused at once a provider its
// NAT cannot reach.)
func TestDetectNAT(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nf := startLocalnet(t, ctx)
	n, err := New(ctx, Config{DataDir: filepath.Join(t.TempDir(), "a"), Network: nf, LightKDF: true, Country: "DE", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	v := n.NAT()
	n.Close()
	if v.NAT != string(stun.Public) || v.PublicIP != "127.0.0.1" || len(v.Errors) != 0 {
		t.Fatalf("NAT on loopback: %+v", v)
	}

	// A silent server and a garbage one.
	silent, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer silent.Close()
	garbage, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer garbage.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := garbage.ReadFrom(buf)
			if err != nil {
				return
			}
			garbage.WriteTo(append([]byte("garbage"), buf[:n]...), from)
		}
	}()
	bad := *nf
	bad.STUNURLs = []string{"stun:" + silent.LocalAddr().String(), "stun:" + garbage.LocalAddr().String()}
	start := time.Now()
	n, err = New(ctx, Config{DataDir: filepath.Join(t.TempDir(), "b"), Network: &bad, LightKDF: true, Country: "DE", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	v = n.NAT()
	if v.NAT != string(stun.Unknown) || len(v.Errors) != 2 || time.Since(start) > 15*time.Second {
		t.Fatalf("NAT with dead STUN servers: %+v after %v", v, time.Since(start))
	}
	_, err = n.natw.Reach(ctx, servicetypes.All[len(servicetypes.All)-1], 40000, "x")
	if err == nil || !strings.Contains(err.Error(), "--public-ip") {
		t.Fatalf("a tunnel service without a known public side: %v", err)
	}
}

// TestNATWatchWithoutPayments: a node on a network without payments still
// asks STUN again while it runs (the watch is the node's, not the
// payments').
func TestNATWatchWithoutPayments(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nf := startLocalnet(t, ctx)
	free := *nf
	free.PaymentsAddress, free.TokenAddress = nil, nil
	if free.HasPayments() {
		t.Fatal("the network still has payments")
	}
	n, err := New(ctx, Config{DataDir: t.TempDir(), Network: &free, LightKDF: true, Country: "DE", NATCheckEvery: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.paymentsEnabled() {
		t.Fatal("payments on without a payments contract")
	}
	first := n.NAT().CheckedAt
	n.Start()
	deadline := time.Now().Add(10 * time.Second)
	for !n.NAT().CheckedAt.After(first) {
		if time.Now().After(deadline) {
			t.Fatalf("no STUN check after %s (first at %s)", 10*time.Second, first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := n.NAT(); v.NAT != string(stun.Public) {
		t.Fatalf("NAT after the re-check: %+v", v)
	}
}
