package wireguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/mystnode/myst/session"
)

// PunchAgain: after the first packet, one more at each of these times, in
// case the consumer's first handshake left before the provider's NAT was
// open (WireGuard itself retries a handshake only after 5 s).
var PunchAgain = []time.Duration{300 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// Punching limits: a consumer names at most MaxCandidates addresses, each
// gets 1+len(PunchAgain) packets of 12 bytes, and only during a
// session-create of a live, signed dialog (the provider's per-consumer
// create rate bounds how often).
const (
	MaxCandidates = session.MaxCandidates
	// PunchTTL makes the packet die past the provider's own router and the
	// next hop: it opens the provider's NAT for the consumer's address and
	// port, but never reaches the consumer's NAT, whose state for an
	// unknown packet would clash with the consumer's own outgoing mapping
	// and move its public port.
	PunchTTL = 2
)

// checkCandidates parses a consumer's candidates (session.Candidates).
func checkCandidates(in []string, tunnel netip.Prefix) ([]netip.AddrPort, error) {
	return session.Candidates(in, tunnel)
}

// punch sends one small UDP packet from local port to each candidate with
// a TTL of PunchTTL. The port is the WireGuard device's own, so the packet
// goes through a raw socket (CAP_NET_RAW) with that source port.
func punch(port int, to []netip.AddrPort) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_UDP)
	if err != nil {
		return fmt.Errorf("raw socket (needs CAP_NET_RAW): %w", err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TTL, PunchTTL); err != nil {
		return err
	}
	var errs []error
	for _, c := range to {
		// UDP header, no checksum (allowed over IPv4), 4 bytes of payload
		// that WireGuard ignores (not a message type it knows).
		pkt := make([]byte, 12)
		binary.BigEndian.PutUint16(pkt[0:], uint16(port))
		binary.BigEndian.PutUint16(pkt[2:], c.Port())
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)))
		copy(pkt[8:], "myst")
		sa := &syscall.SockaddrInet4{Addr: c.Addr().As4()}
		if err := syscall.Sendto(fd, pkt, 0, sa); err != nil {
			errs = append(errs, fmt.Errorf("to %s: %w", c, err))
		}
	}
	return errors.Join(errs...)
}
