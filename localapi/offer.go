package localapi

import (
	"errors"
	"math/big"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/node"
	"github.com/mystnode/myst/proposal"
)

// offerOf reads POST /services: the wire's decimal strings become the
// node's amounts here, once, and a bad field is named by its JSON path.
func offerOf(req api.ServiceRequest) (node.Offer, error) {
	provider, err := identity.ParseAddress(req.ProviderID)
	if err != nil {
		return node.Offer{}, &node.FieldError{Field: "provider_id", Err: err}
	}
	o := req.Options
	amount := func(field, s string) (*big.Int, error) {
		if s == "" {
			return new(big.Int), nil
		}
		a, err := proposal.ParseAmount(s)
		if err != nil {
			return nil, &node.FieldError{Field: "options." + field, Err: err}
		}
		return a, nil
	}
	hour, err := amount("price_hour", o.PriceHour)
	if err != nil {
		return node.Offer{}, err
	}
	gib, err := amount("price_gib", o.PriceGiB)
	if err != nil {
		return node.Offer{}, err
	}
	if !proposal.ValidServiceType(req.Type) {
		return node.Offer{}, &node.FieldError{Field: "type", Err: errors.New("\"" + req.Type + "\" is not a service type")}
	}
	return node.Offer{Provider: provider, Type: req.Type, PriceHour: hour, PriceGiB: gib, Country: o.Country, City: o.City,
		BandwidthMbps: o.BandwidthMbps, MaxSessions: o.MaxSessions}, nil
}

// inOptions names an offer's field the node refused by its JSON path
// (options.country, not country).
func inOptions(err error) error {
	var fe *node.FieldError
	if errors.As(err, &fe) {
		switch fe.Field {
		case "country", "city", "bandwidth_mbps", "max_sessions", "price":
			return &node.FieldError{Field: "options." + fe.Field, Err: fe.Err}
		}
	}
	return err
}
