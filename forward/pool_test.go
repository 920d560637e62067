package forward

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPoolSlotsComeBack(t *testing.T) {
	p, err := NewPool(netip.MustParsePrefix("10.88.0.0/23"), 1194)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Take()
	b, _ := p.Take()
	if a.Subnet.String() != "10.88.0.0/24" || a.Port != 1194 || b.Subnet.String() != "10.88.1.0/24" || b.Port != 1195 {
		t.Fatalf("slots %+v %+v", a, b)
	}
	if _, err := p.Take(); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("third slot of a /23: %v", err)
	}
	// A stopped service's slot is reused: 300 starts and stops never run out.
	for range 300 {
		p.Give(a)
		if a, err = p.Take(); err != nil || a.Subnet.String() != "10.88.0.0/24" {
			t.Fatalf("slot after give: %+v %v", a, err)
		}
	}
	if _, err := NewPool(netip.MustParsePrefix("10.88.0.0/25"), 0); err == nil {
		t.Fatal("a /25 pool accepted")
	}
	// Across an octet: 10.0.255.0/24 then 10.1.0.0/24.
	p, _ = NewPool(netip.MustParsePrefix("10.0.0.0/8"), 0)
	p.used[255] = false
	s := p.slot(256)
	if s.Subnet.String() != "10.1.0.0/24" || s.Port != 0 {
		t.Fatalf("slot 256 %+v", s)
	}
}
