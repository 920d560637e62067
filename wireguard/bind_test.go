package wireguard

import (
	"net/netip"
	"testing"
	"time"
)

// TestProbeForgery: a pong that does not echo the last ping's random
// bytes (a stranger answering for the provider) moves nothing; the right
// one moves the consumer's sends to the direct path, and the path is
// reported direct only once the provider says it sends there too. Without
// fresh proof the path goes back to the relay.
func TestProbeForgery(t *testing.T) {
	var moves []bool
	d := &dualEndpoint{relayed: netip.MustParseAddrPort("198.18.0.1:50000"), direct: netip.MustParseAddrPort("198.18.41.2:51820"),
		pings: true, started: time.Now(), onMove: func(up bool) { moves = append(moves, up) }}
	ping := d.ping()
	if !isProbe(ping) || ping[len(probeMagic)] != 'i' {
		t.Fatalf("ping %q", ping)
	}
	forged := make([]byte, 16)
	d.pong(forged, true)
	if d.directUp() {
		t.Fatal("a forged pong moved the sends to the direct path")
	}
	d.pong(ping[len(probeMagic)+1:], false)
	if !d.directUp() || len(moves) != 0 {
		t.Fatalf("the answered ping: up %v, reported %v (want up, not yet reported: the provider still sends through the relay)", d.directUp(), moves)
	}
	if next := d.ping(); next[len(probeMagic)] != 'u' {
		t.Fatalf("a ping after the move says %q, want u", next[len(probeMagic)])
	}
	d.pong(d.id[:], true)
	if len(moves) != 1 || !moves[0] {
		t.Fatalf("reported %v after the provider's 'up' pong, want [true]", moves)
	}
	d.mu.Lock()
	d.lastSeen = time.Now().Add(-DirectTimeout - time.Second)
	d.mu.Unlock()
	if d.directUp() || len(moves) != 2 || moves[1] {
		t.Fatalf("stale proof: up %v, reported %v", d.directUp(), moves)
	}
}
