// Package proposal is the service proposal: the complete, signed
// description of one service a provider offers, as announced to discovery.
package proposal

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/stun"
	"golang.org/x/text/language"
)

// FormatVersion is the proposal format this node writes and accepts.
const FormatVersion = 1

// Currency is the token prices are in.
const Currency = "MYSTT"

// ContactNATS is the contact type of the default channel.
const ContactNATS = "nats/v1"

// ErrInvalid wraps every validation error; FieldError names the field.
var ErrInvalid = errors.New("invalid proposal")

// FieldError is a validation error about one field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Proposal describes one service of one provider.
type Proposal struct {
	FormatVersion int       `json:"format_version"`
	ProviderID    string    `json:"provider_id"`
	ServiceType   string    `json:"service_type"`
	Location      Location  `json:"location"`
	Quality       Quality   `json:"quality"`
	Price         Price     `json:"price"`
	Contacts      []Contact `json:"contacts"`
	// Reachability is how consumers reach the provider's tunnel: public,
	// mapped (a port mapping on its router), cone (punch through its NAT),
	// symmetric (only consumers that can take its packets), unknown,
	// relayed (only through Relay); empty for services without a tunnel.
	Reachability stun.NAT `json:"reachability,omitempty"`
	// Relay is the tunnel's relayed address (IPv4 address:port on one of
	// the network's TURN relays), beside the direct endpoint, for
	// consumers with no direct path to the provider.
	Relay string `json:"relay,omitempty"`
	// Exit is a tunnel service's exit policy (nil for services without a
	// tunnel).
	Exit      *Exit     `json:"exit,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Exit is what a tunnel service's consumers cannot do through it, besides
// reaching the provider's own host and networks (never possible).
type Exit struct {
	// BlockedPorts are destination ports refused, TCP and UDP.
	BlockedPorts []uint16 `json:"blocked_ports,omitempty"`
	// SessionMbit holds each session to this many Mbit/s each way (0: no
	// limit).
	SessionMbit float64 `json:"session_mbit,omitempty"`
	// PrivateAllowed: the provider lets consumers reach some private
	// ranges of its own (--exit-allow).
	PrivateAllowed bool `json:"private_allowed,omitempty"`
}

// MaxBlockedPorts bounds an exit policy's list.
const MaxBlockedPorts = 64

// Blocks says whether the policy refuses destination port.
func (e *Exit) Blocks(port uint16) bool {
	return e != nil && slices.Contains(e.BlockedPorts, port)
}

// Location is where the service's traffic appears to come from.
type Location struct {
	Country string `json:"country"`
	City    string `json:"city,omitempty"`
	ASN     int    `json:"asn,omitempty"`
	IPType  string `json:"ip_type,omitempty"`
}

// Quality is what the provider commits to.
type Quality struct {
	BandwidthMbps float64 `json:"bandwidth_mbps"`
}

// Price is per metered unit, as decimal strings of Currency.
type Price struct {
	Currency string `json:"currency"`
	PerHour  string `json:"per_hour"`
	PerGiB   string `json:"per_gib"`
}

// Contact is one way to reach the provider.
type Contact struct {
	Type       string   `json:"type"`
	BrokerURLs []string `json:"broker_urls"`
	Subject    string   `json:"subject"`
}

// Key identifies a proposal: one per provider and service type.
func (p *Proposal) Key() string { return strings.ToLower(p.ProviderID) + "/" + p.ServiceType }

// Provider is the provider's address (valid after Validate).
func (p *Proposal) Provider() common.Address { return common.HexToAddress(p.ProviderID) }

var (
	serviceTypeRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	ipTypes       = map[string]bool{"": true, "residential": true, "hosting": true, "business": true, "mobile": true}
)

// ValidServiceType reports whether s can name a service type.
func ValidServiceType(s string) bool { return serviceTypeRE.MatchString(s) }

// Printable reports whether s is UTF-8 without control characters
// (escape sequences, newlines, tabs) or invisible formatting ones
// (bidirectional overrides, zero-width characters): text a provider
// controls that consumers' terminals and pages show as it is.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// ValidCountry reports whether s is an ISO 3166-1 alpha-2 country code.
func ValidCountry(s string) bool {
	if len(s) != 2 || strings.ToUpper(s) != s {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.String() == s
}

// Bounds of a proposal: what discovery stores and serves to everyone must
// stay small (a real one is well under 1 KiB).
const (
	MaxSize       = 4096 // bytes of the signed proposal
	MaxContacts   = 2
	MaxBrokerURLs = 4 // per contact
	MaxURLLength  = 200
)

// ValidReachability says whether r is a reachability a proposal may state
// ("" included: not stated).
func ValidReachability(r stun.NAT) bool {
	return r == "" || r.Valid()
}

// Validate checks every field.
func (p *Proposal) Validate() error {
	if p.FormatVersion != FormatVersion {
		return fieldErr("format_version", "got %d, this node speaks %d", p.FormatVersion, FormatVersion)
	}
	if _, err := identity.ParseAddress(p.ProviderID); err != nil {
		return fieldErr("provider_id", "%v", err)
	}
	if !ValidServiceType(p.ServiceType) {
		return fieldErr("service_type", "%q: want 1-32 of a-z, 0-9 and -, starting with a letter", p.ServiceType)
	}
	if !ValidCountry(p.Location.Country) {
		return fieldErr("location.country", "%q is not an ISO 3166-1 alpha-2 country code (like DE or US)", p.Location.Country)
	}
	if len(p.Location.City) > 64 {
		return fieldErr("location.city", "longer than 64 characters")
	}
	if !Printable(p.Location.City) {
		return fieldErr("location.city", "%q holds control or formatting characters (or is not UTF-8): a terminal or page showing it could be made to do things", p.Location.City)
	}
	if p.Location.ASN < 0 || p.Location.ASN > 4294967295 {
		return fieldErr("location.asn", "out of range")
	}
	if !ipTypes[p.Location.IPType] {
		return fieldErr("location.ip_type", "%q: want residential, hosting, business or mobile", p.Location.IPType)
	}
	if !ValidReachability(p.Reachability) {
		return fieldErr("reachability", "%q: want public, mapped, cone, symmetric, unknown or relayed", p.Reachability)
	}
	if p.Relay != "" {
		if ap, err := netip.ParseAddrPort(p.Relay); err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return fieldErr("relay", "%q is not an IPv4 address:port", p.Relay)
		}
	}
	if p.Reachability == stun.Relayed && p.Relay == "" {
		return fieldErr("relay", "reachability is relayed but no relayed address is given")
	}
	if e := p.Exit; e != nil {
		if len(e.BlockedPorts) > MaxBlockedPorts {
			return fieldErr("exit.blocked_ports", "%d ports, at most %d", len(e.BlockedPorts), MaxBlockedPorts)
		}
		for _, port := range e.BlockedPorts {
			if port == 0 {
				return fieldErr("exit.blocked_ports", "port 0")
			}
		}
		if e.SessionMbit < 0 || e.SessionMbit > 100000 {
			return fieldErr("exit.session_mbit", "must be between 0 and 100000")
		}
	}
	if p.Quality.BandwidthMbps < 0 || p.Quality.BandwidthMbps > 1e6 {
		return fieldErr("quality.bandwidth_mbps", "must be between 0 and 1000000")
	}
	if p.Price.Currency != Currency {
		return fieldErr("price.currency", "%q: want %s", p.Price.Currency, Currency)
	}
	if _, err := ParseAmount(p.Price.PerHour); err != nil {
		return fieldErr("price.per_hour", "%v", err)
	}
	if _, err := ParseAmount(p.Price.PerGiB); err != nil {
		return fieldErr("price.per_gib", "%v", err)
	}
	if len(p.Contacts) == 0 || len(p.Contacts) > MaxContacts {
		return fieldErr("contacts", "want 1 to %d contacts", MaxContacts)
	}
	for i, c := range p.Contacts {
		f := fmt.Sprintf("contacts[%d]", i)
		if c.Type != ContactNATS {
			return fieldErr(f+".type", "%q: want %s", c.Type, ContactNATS)
		}
		if len(c.BrokerURLs) == 0 || len(c.BrokerURLs) > MaxBrokerURLs {
			return fieldErr(f+".broker_urls", "want 1 to %d URLs", MaxBrokerURLs)
		}
		for _, u := range c.BrokerURLs {
			if len(u) > MaxURLLength {
				return fieldErr(f+".broker_urls", "a URL of %d characters (at most %d)", len(u), MaxURLLength)
			}
			pu, err := url.Parse(u)
			if err != nil || pu.Host == "" || (pu.Scheme != "nats" && pu.Scheme != "tls") {
				return fieldErr(f+".broker_urls", "%q is not a nats://host:port URL", u)
			}
		}
		if c.Subject == "" || len(c.Subject) > 128 || strings.ContainsAny(c.Subject, " \t\r\n*>") || !Printable(c.Subject) {
			return fieldErr(f+".subject", "%q is not a NATS subject", c.Subject)
		}
	}
	if p.UpdatedAt.IsZero() {
		return fieldErr("updated_at", "missing")
	}
	return nil
}

// Decimals is the token's precision: amounts are whole multiples of 10^-18.
const Decimals = 18

var unit = new(big.Int).Exp(big.NewInt(10), big.NewInt(Decimals), nil)

// ParseAmount parses a non-negative decimal amount of tokens ("0.01") into
// its smallest units (10^-18).
func ParseAmount(s string) (*big.Int, error) {
	if s == "" {
		return nil, errors.New("missing (use 0 for free)")
	}
	if len(s) > 40 {
		return nil, errors.New("too long")
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '.' {
			return nil, fmt.Errorf("%q is not a non-negative decimal number", s)
		}
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Contains(frac, ".") || (strings.Contains(s, ".") && frac == "") {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	if len(frac) > Decimals {
		return nil, fmt.Errorf("%q has more than %d decimals", s, Decimals)
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", Decimals-len(frac)), 10)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	return v, nil
}

// FormatAmount writes smallest units as a decimal amount of tokens.
func FormatAmount(v *big.Int) string {
	q, r := new(big.Int).QuoRem(v, unit, new(big.Int))
	if r.Sign() == 0 {
		return q.String()
	}
	frac := fmt.Sprintf("%018s", r.String())
	return q.String() + "." + strings.TrimRight(frac, "0")
}

// Signed is a proposal with its provider's signature over the exact bytes
// of the proposal field, as posted to discovery.
type Signed struct {
	Proposal  json.RawMessage `json:"proposal"`
	Signature string          `json:"signature"`
}

// Sign encodes p and signs it.
func Sign(p *Proposal, signer *identity.Signer) (*Signed, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(signedBytes(raw))
	if err != nil {
		return nil, err
	}
	return &Signed{Proposal: raw, Signature: "0x" + common.Bytes2Hex(sig)}, nil
}

func signedBytes(raw []byte) []byte {
	return append([]byte("myst proposal v1\x00"), raw...)
}

// Open decodes and validates the proposal and checks that its provider
// signed it.
func (s *Signed) Open() (*Proposal, error) {
	if len(s.Proposal) == 0 {
		return nil, fieldErr("proposal", "missing")
	}
	if len(s.Proposal) > MaxSize {
		return nil, fieldErr("proposal", "%d bytes, more than the %d a proposal may take", len(s.Proposal), MaxSize)
	}
	var p Proposal
	dec := json.NewDecoder(strings.NewReader(string(s.Proposal)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fieldErr("proposal", "not a proposal: %v", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	sig, err := decodeHex(s.Signature)
	if err != nil {
		return nil, fieldErr("signature", "%v", err)
	}
	if err := identity.Verify(p.Provider(), signedBytes(s.Proposal), sig); err != nil {
		return nil, fieldErr("signature", "%v", err)
	}
	return &p, nil
}

func decodeHex(s string) ([]byte, error) {
	if !strings.HasPrefix(s, "0x") {
		return nil, errors.New("want 0x-prefixed hex")
	}
	b := common.FromHex(s)
	if len(b) != identity.SignatureLength || len(s) != 2+2*identity.SignatureLength {
		return nil, fmt.Errorf("want %d bytes of 0x-prefixed hex", identity.SignatureLength)
	}
	return b, nil
}

// DeleteRequest is the signed body of a proposal's unregistration.
type DeleteRequest struct {
	Timestamp time.Time `json:"timestamp"`
	Signature string    `json:"signature"`
}

// DeleteMessage is what a provider signs to unregister a proposal.
func DeleteMessage(provider common.Address, serviceType string, ts time.Time) []byte {
	return []byte(fmt.Sprintf("myst proposal delete v1\x00%s/%s@%d", strings.ToLower(provider.Hex()), serviceType, ts.UnixMilli()))
}

// SignDelete makes a DeleteRequest.
func SignDelete(signer *identity.Signer, serviceType string, now time.Time) (*DeleteRequest, error) {
	now = now.UTC().Truncate(time.Millisecond)
	sig, err := signer.Sign(DeleteMessage(signer.Address(), serviceType, now))
	if err != nil {
		return nil, err
	}
	return &DeleteRequest{Timestamp: now, Signature: "0x" + common.Bytes2Hex(sig)}, nil
}

// Verify checks that provider signed this delete of serviceType.
func (d *DeleteRequest) Verify(provider common.Address, serviceType string) error {
	sig, err := decodeHex(d.Signature)
	if err != nil {
		return fieldErr("signature", "%v", err)
	}
	if err := identity.Verify(provider, DeleteMessage(provider, serviceType, d.Timestamp), sig); err != nil {
		return fieldErr("signature", "%v", err)
	}
	return nil
}

// Escape shows s safely on a terminal: control and formatting characters
// (and bytes that are not UTF-8) become \u escapes, the rest stays.
func Escape(s string) string {
	if Printable(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
