package relaylink_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/relaylink"
)

// TestCoturn: Debian's coturn, run with the TURN REST shared secret the
// way docs/relay.md tells operators, relays for an identity whose
// credentials myst's issuer gave (registered): a peer's packets reach the
// link and its answers the peer. An unregistered identity gets no
// credentials from the issuer, and credentials it makes up are refused by
// coturn.
func TestCoturn(t *testing.T) {
	if _, err := exec.LookPath("turnserver"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("must run in CI: %v", err)
		}
		t.Skip(err)
	}
	secret := "4b1d7e0c9a2f6e3d8c5b0a7f2e9d4c1b"
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	log := &mysttest.SyncBuffer{}
	p, err := netlab.Coturn("", t.TempDir(), addr, secret, true, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer p.Stop(5 * time.Second)

	alice, mallory := mysttest.NewSigner(t), mysttest.NewSigner(t)
	is := &relay.Issuer{Secret: []byte(secret), Registered: func(_ context.Context, id common.Address) (bool, error) {
		return id == alice.Address(), nil
	}}
	url := "turn:" + addr.String()
	grant := func(ctx context.Context) (relaylink.Grant, error) {
		r, err := relaylink.SignRequest(alice, time.Now())
		if err != nil {
			return relaylink.Grant{}, err
		}
		return is.Issue(ctx, r, time.Now())
	}
	l, err := relaylink.Open(context.Background(), relaylink.Config{URL: url, Grant: grant})
	if err != nil {
		t.Fatalf("alice on coturn: %v\n%s", err, log.String())
	}
	defer l.Close()
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := l.Permit(peerAddr.Addr()); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteToUDPAddrPort([]byte("ping"), l.Addr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := l.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" || from != peerAddr {
		t.Fatalf("through coturn: %q from %v, %v", buf[:n], from, err)
	}
	if err := l.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := peer.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("answer through coturn: %q %v", buf[:n], err)
	}

	// Mallory: no credentials from the issuer, and made-up ones refused.
	r, _ := relaylink.SignRequest(mallory, time.Now())
	if _, err := is.Issue(context.Background(), r, time.Now()); !errors.Is(err, relay.ErrNotRegistered) {
		t.Fatalf("issuer for an unregistered identity: %v", err)
	}
	forged := relay.GrantFor([]byte("not the operator's secret at all"), mallory.Address(), time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l2, err := relaylink.Open(ctx, relaylink.Config{URL: url, Grant: forged}); err == nil {
		l2.Close()
		t.Fatal("coturn took credentials not made with its secret")
	} else {
		t.Logf("made-up credentials: %v", err)
	}
}
