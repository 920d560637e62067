package relaylink_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/relaylink"
)

// BenchmarkRelayed sends 1,400-byte packets from a link through the relay
// to a peer (a provider's direction of a download) and reports what
// arrived: the relay and the TURN client alone, on loopback.
func BenchmarkRelayed(b *testing.B) {
	srv, err := relay.Listen(relay.Config{Addr: "127.0.0.1:0", Secret: secret, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	id := mysttest.NewSigner(b).Address()
	l, err := relaylink.Open(context.Background(), relaylink.Config{URL: srv.URL(""), Grant: relay.GrantFor(secret, id, time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	peer.SetReadBuffer(8 << 20)
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	l.Permit(to.Addr())
	pkt := make([]byte, 1400)
	for range 3 { // the channel binding
		l.WriteTo(pkt, to)
		time.Sleep(50 * time.Millisecond)
	}
	got := make(chan int64)
	go func() {
		var n int64
		buf := make([]byte, 2000)
		for {
			peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			k, _, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil {
				got <- n
				return
			}
			n += int64(k)
		}
	}()
	b.ResetTimer()
	began := time.Now()
	for range b.N {
		l.WriteTo(pkt, to)
	}
	sent := time.Since(began)
	n := <-got
	b.ReportMetric(float64(n*8)/sent.Seconds()/1e6, "Mbit/s-arrived")
	b.ReportMetric(100*float64(n)/float64(int64(b.N)*1400), "%-arrived")
}
