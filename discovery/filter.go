package discovery

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/stun"
)

// Filter selects proposals. Zero values don't filter.
type Filter struct {
	ServiceType  string
	Country      string
	Metering     string   // "time": charges per hour; "bytes": charges per GiB
	MaxPriceHour *big.Int // smallest units; nil: no limit
	MaxPriceGiB  *big.Int
	MinBandwidth float64
	// Reachability, if not empty, keeps proposals with one of these.
	Reachability []stun.NAT
	// Port, if set, keeps proposals whose exit does not block it;
	// MinSessionMbit those that limit sessions to no less (or not at all).
	Port           uint16
	MinSessionMbit float64
	ProviderID     string // lowercase hex
	Limit          int
	Offset         int
	// After, if set, starts the page after this key (keyset pagination).
	After *Key
}

// Key is a proposal's place in the result order (provider, service type).
type Key struct{ ProviderID, ServiceType string }

// SearchResult answers GET /v1/proposals.
type SearchResult struct {
	Proposals []proposal.Signed `json:"proposals"`
	// Total counts the matches (all pages) when TotalExact; otherwise more
	// than TotalCap match and Total is TotalCap+1, a lower bound.
	Total      int  `json:"total"`
	TotalExact bool `json:"total_exact"`
	Limit      int  `json:"limit"`
	Offset     int  `json:"offset"`
	// Next is the cursor of the next page ("" on the last page): pass it
	// as cursor= with the same filters.
	Next string `json:"next,omitempty"`
}

// PostResult answers a successful POST.
type PostResult struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// APIError is the body of every error answer.
type APIError = httpjson.ErrorBody

// MaxOffset bounds offset; deeper pages are reached by cursor.
const MaxOffset = 10000

// EncodeCursor makes the opaque cursor of a page that ends at k.
func EncodeCursor(k Key) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1|" + k.ProviderID + "|" + k.ServiceType))
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(c string) (Key, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	parts := strings.Split(string(b), "|")
	if err != nil || len(parts) != 3 || parts[0] != "v1" {
		return Key{}, errors.New("not a cursor this server made (pass the next field of a previous page)")
	}
	a, err := identity.ParseAddress(parts[1])
	if err != nil || strings.ToLower(a.Hex()) != parts[1] || !proposal.ValidServiceType(parts[2]) {
		return Key{}, errors.New("not a cursor this server made (pass the next field of a previous page)")
	}
	return Key{ProviderID: parts[1], ServiceType: parts[2]}, nil
}

// ParseFilter reads and checks the search query parameters.
func ParseFilter(q map[string][]string) (Filter, error) {
	f := Filter{Limit: 50}
	for name, vals := range q {
		if len(vals) != 1 {
			return f, &proposal.FieldError{Field: name, Msg: "give it once"}
		}
		v := vals[0]
		bad := func(format string, args ...any) error {
			return &proposal.FieldError{Field: name, Msg: fmt.Sprintf(format, args...)}
		}
		switch name {
		case "service_type":
			if !proposal.ValidServiceType(v) {
				return f, bad("%q is not a service type", v)
			}
			f.ServiceType = v
		case "country":
			if !proposal.ValidCountry(v) {
				return f, bad("%q is not an ISO 3166-1 alpha-2 country code (like DE)", v)
			}
			f.Country = v
		case "metering":
			if v != "time" && v != "bytes" {
				return f, bad("%q: want time or bytes", v)
			}
			f.Metering = v
		case "max_price_hour", "max_price_gib":
			a, err := proposal.ParseAmount(v)
			if err != nil {
				return f, bad("%v", err)
			}
			if name == "max_price_hour" {
				f.MaxPriceHour = a
			} else {
				f.MaxPriceGiB = a
			}
		case "min_bandwidth":
			b, err := strconv.ParseFloat(v, 64)
			if err != nil || b < 0 || b > 1e6 {
				return f, bad("%q: want Mbit/s between 0 and 1000000", v)
			}
			f.MinBandwidth = b
		case "reachability":
			if len(f.Reachability) > 0 {
				return f, bad("given twice: list the values comma-separated")
			}
			for r := range strings.SplitSeq(v, ",") {
				if !proposal.ValidReachability(stun.NAT(r)) || r == "" {
					return f, bad("%q: want a comma-separated list of public, mapped, cone, symmetric, unknown, relayed", r)
				}
				f.Reachability = append(f.Reachability, stun.NAT(r))
			}
		case "port":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n == 0 {
				return f, bad("%q: want a destination port, 1 to 65535, the exit must let through", v)
			}
			f.Port = uint16(n)
		case "min_session_mbit":
			b, err := strconv.ParseFloat(v, 64)
			if err != nil || b < 0 || b > 100000 {
				return f, bad("%q: want Mbit/s between 0 and 100000", v)
			}
			f.MinSessionMbit = b
		case "provider_id":
			a, err := identity.ParseAddress(v)
			if err != nil {
				return f, bad("%v", err)
			}
			f.ProviderID = strings.ToLower(a.Hex())
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				return f, bad("%q: want 1 to 500", v)
			}
			f.Limit = n
		case "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > MaxOffset {
				return f, bad("%q: want 0 to %d (page deeper with cursor)", v, MaxOffset)
			}
			f.Offset = n
		case "cursor":
			k, err := DecodeCursor(v)
			if err != nil {
				return f, bad("%v", err)
			}
			f.After = &k
		default:
			return f, bad("unknown filter (known: service_type, country, metering, max_price_hour, max_price_gib, min_bandwidth, reachability, port, min_session_mbit, provider_id, limit, offset, cursor)")
		}
	}
	return f, nil
}

// Query is f as the API's query parameters: ParseFilter(f.Query()) gives f
// back.
func (f Filter) Query() url.Values {
	q := url.Values{}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	set("service_type", f.ServiceType)
	set("country", f.Country)
	set("metering", f.Metering)
	if f.MaxPriceHour != nil {
		set("max_price_hour", proposal.FormatAmount(f.MaxPriceHour))
	}
	if f.MaxPriceGiB != nil {
		set("max_price_gib", proposal.FormatAmount(f.MaxPriceGiB))
	}
	if f.MinBandwidth > 0 {
		set("min_bandwidth", strconv.FormatFloat(f.MinBandwidth, 'f', -1, 64))
	}
	reach := make([]string, len(f.Reachability))
	for i, r := range f.Reachability {
		reach[i] = string(r)
	}
	set("reachability", strings.Join(reach, ","))
	if f.Port != 0 {
		set("port", strconv.Itoa(int(f.Port)))
	}
	if f.MinSessionMbit > 0 {
		set("min_session_mbit", strconv.FormatFloat(f.MinSessionMbit, 'f', -1, 64))
	}
	set("provider_id", f.ProviderID)
	if f.Limit != 0 {
		set("limit", strconv.Itoa(f.Limit))
	}
	if f.Offset != 0 {
		set("offset", strconv.Itoa(f.Offset))
	}
	if f.After != nil {
		set("cursor", EncodeCursor(*f.After))
	}
	return q
}
