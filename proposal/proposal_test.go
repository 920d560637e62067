package proposal

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/identity"
)

func TestParseFormatAmount(t *testing.T) {
	good := map[string]string{"0": "0", "0.01": "10000000000000000", "1": "1000000000000000000", "12.5": "12500000000000000000",
		"0.000000000000000001": "1"}
	for in, want := range good {
		v, err := ParseAmount(in)
		if err != nil || v.String() != want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %s", in, v, err, want)
		}
		back := FormatAmount(v)
		if w, _ := new(big.Rat).SetString(in); back != in && w.RatString() != back {
			if v2, _ := ParseAmount(back); v2.Cmp(v) != 0 {
				t.Errorf("FormatAmount(%v) = %q does not parse back", v, back)
			}
		}
	}
	for _, in := range []string{"", "-1", "1e3", "abc", ".5", "5.", "1.2.3", "0.0000000000000000001", " 1"} {
		if _, err := ParseAmount(in); err == nil {
			t.Errorf("ParseAmount(%q) accepted", in)
		}
	}
}

func TestValidCountry(t *testing.T) {
	for _, c := range []string{"DE", "US", "LT", "JP"} {
		if !ValidCountry(c) {
			t.Errorf("%s refused", c)
		}
	}
	for _, c := range []string{"", "de", "XX", "ZZ", "EU", "DEU", "276", "D"} {
		if ValidCountry(c) {
			t.Errorf("%q accepted", c)
		}
	}
}

func TestSignOpen(t *testing.T) {
	k, _ := crypto.GenerateKey()
	s := identity.NewSigner(k)
	p := &Proposal{FormatVersion: 1, ProviderID: s.Address().Hex(), ServiceType: "noop", Location: Location{Country: "DE"},
		Price:     Price{Currency: "MYSTT", PerHour: "0.01", PerGiB: "0"},
		Contacts:  []Contact{{Type: ContactNATS, BrokerURLs: []string{"nats://127.0.0.1:4222"}, Subject: "a.b"}},
		UpdatedAt: time.Now()}
	signed, err := Sign(p, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := signed.Open()
	if err != nil || got.Key() != p.Key() {
		t.Fatalf("Open: %v", err)
	}
	signed.Proposal = []byte(string(signed.Proposal[:len(signed.Proposal)-1]) + `,"extra":1}`)
	var fe *FieldError
	if _, err := signed.Open(); !errors.As(err, &fe) {
		t.Fatalf("unknown field: %v", err)
	}
	d, _ := SignDelete(s, "noop", time.Now())
	if err := d.Verify(s.Address(), "noop"); err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(s.Address(), "openvpn"); err == nil {
		t.Fatal("delete of noop verified for openvpn")
	}
}

// TestProviderTextIsSafe: a city (or subject) holding terminal escape
// sequences, newlines or bidirectional overrides is refused, naming the
// field; Escape shows such text inert.
func TestProviderTextIsSafe(t *testing.T) {
	k, _ := crypto.GenerateKey()
	s := identity.NewSigner(k)
	base := func() *Proposal {
		return &Proposal{FormatVersion: 1, ProviderID: s.Address().Hex(), ServiceType: "noop", Location: Location{Country: "DE", City: "Zürich"},
			Price:     Price{Currency: "MYSTT", PerHour: "0.01", PerGiB: "0"},
			Contacts:  []Contact{{Type: ContactNATS, BrokerURLs: []string{"nats://127.0.0.1:4222"}, Subject: "a.b"}},
			UpdatedAt: time.Now()}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("a plain city: %v", err)
	}
	for _, city := range []string{"Berlin\x1b]0;owned\x07", "Ber\x1b[2Jlin", "Ber\nlin", "Ber\tlin", "Ber\u202elin", "Ber\u200blin", "Ber\xfflin"} {
		p := base()
		p.Location.City = city
		var fe *FieldError
		if err := p.Validate(); !errors.As(err, &fe) || fe.Field != "location.city" {
			t.Errorf("city %q: %v", city, err)
		}
		if e := Escape(city); !Printable(e) {
			t.Errorf("Escape(%q) = %q is not printable", city, e)
		}
	}
	p := base()
	p.Contacts[0].Subject = "a.\x1bb"
	if err := p.Validate(); err == nil {
		t.Error("a subject with an escape character was accepted")
	}
	if got := Escape("Ber\x1b[2Jlin\u202e"); got != `Ber\u001b[2Jlin\u202e` {
		t.Errorf("Escape: %q", got)
	}
	if got := Escape("Zürich"); got != "Zürich" {
		t.Errorf("Escape of plain text: %q", got)
	}
}
