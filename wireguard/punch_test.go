package wireguard

import (
	"net/netip"
	"strings"
	"testing"
)

// TestCandidatesChecked: a consumer's candidate list is bounded and names
// only addresses a punch may go to.
func TestCandidatesChecked(t *testing.T) {
	tunnel := netip.MustParsePrefix("10.89.0.0/24")
	if got, err := checkCandidates([]string{"198.18.20.2:40000", "203.0.113.9:1"}, tunnel); err != nil || len(got) != 2 {
		t.Fatalf("good candidates: %v %v", got, err)
	}
	for _, bad := range [][]string{
		{"a:1"}, {"198.18.20.2"}, {"198.18.20.2:0"}, {"[2001:db8::1]:5"},
		{"127.0.0.1:5"}, {"224.0.0.1:5"}, {"255.255.255.255:5"}, {"169.254.1.1:5"}, {"0.0.0.0:5"}, {"10.89.0.7:5"},
		{"1.1.1.1:1", "1.1.1.1:2", "1.1.1.1:3", "1.1.1.1:4", "1.1.1.1:5"},
	} {
		if _, err := checkCandidates(bad, tunnel); err == nil || !strings.HasPrefix(err.Error(), "candidates:") {
			t.Errorf("%v accepted (%v)", bad, err)
		}
	}
}
