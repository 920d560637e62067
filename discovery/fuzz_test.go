package discovery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
)

// FuzzProposalDecoding feeds discovery's decoding of a posted proposal
// (the body, then the signed proposal inside) arbitrary bytes: no panic;
// what opens is valid and signed by its provider.
func FuzzProposalDecoding(f *testing.F) {
	s := mysttest.NewSigner(f)
	p := &proposal.Proposal{FormatVersion: proposal.FormatVersion, ProviderID: s.Address().Hex(), ServiceType: "noop", Location: proposal.Location{Country: "DE", City: "Berlin"},
		Price:     proposal.Price{Currency: proposal.Currency, PerHour: "0.01", PerGiB: "0"},
		Contacts:  []proposal.Contact{{Type: proposal.ContactNATS, BrokerURLs: []string{"nats://127.0.0.1:4222"}, Subject: "a.b"}},
		UpdatedAt: time.Now()}
	signed, err := proposal.Sign(p, s)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(signed)
	f.Add(good)
	f.Add([]byte(`{"proposal":{"city":"\u001b[2J"},"signature":"0x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sp proposal.Signed
		if httpjson.Decode(b, &sp) != nil {
			return
		}
		got, err := sp.Open()
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("opened an invalid proposal: %v", err)
		}
		if !proposal.Printable(got.Location.City) {
			t.Fatalf("opened a city with control characters: %q", got.Location.City)
		}
	})
}
