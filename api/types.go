// Package api is the language of the node's local REST API: the request
// and response types the handlers (package localapi) and the node share,
// and the typed Go client that the CLI and the end-to-end tests use.
package api

import (
	"encoding/json"
	"time"

	"github.com/mystnode/myst/httpjson"
)

// Error is every error response's body: what went wrong and the request
// field at fault, when one is.
type Error = httpjson.ErrorBody

// Health is GET /healthcheck.
type Health struct {
	Status  string        `json:"status"`
	Uptime  time.Duration `json:"uptime_ns"`
	Version string        `json:"version"`
	Broker  string        `json:"broker"` // connected, reconnecting, ...
	// Chain is how far the registry cache has read the chain.
	Chain string `json:"chain,omitempty"`
}

// NAT is GET /nat: what STUN tells of the node's public side.
type NAT struct {
	// NAT is public, cone, symmetric or unknown.
	NAT      string `json:"nat"`
	PublicIP string `json:"public_ip,omitempty"`
	// Override is --public-ip, which services announce instead.
	Override    string        `json:"override,omitempty"`
	STUNServers []string      `json:"stun_servers"`
	Errors      []string      `json:"errors,omitempty"`
	CheckedAt   time.Time     `json:"checked_at"`
	Mappings    []PortMapping `json:"mappings,omitempty"`
}

// PortMapping is a mapping the node's router granted.
type PortMapping struct {
	InternalPort int       `json:"internal_port"`
	External     string    `json:"external"`
	Via          string    `json:"via"`
	Renewed      time.Time `json:"renewed"`
}

// UICode is POST /ui/codes: a one-time sign-in code for the web UI.
type UICode struct {
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// UISignIn is POST /ui/session.
type UISignIn struct {
	Code string `json:"code"`
}

// UISession is the web UI's session: its CSRF token goes in X-Myst-CSRF.
type UISession struct {
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// Identity is one identity in the node's keystore.
type Identity struct {
	ID       string `json:"id"`
	Unlocked bool   `json:"unlocked"`
}

// IdentityList is GET /identities.
type IdentityList struct {
	Identities []Identity `json:"identities"`
}

// PassphraseRequest is POST /identities and PUT /identities/{id}/unlock.
type PassphraseRequest struct {
	Passphrase string `json:"passphrase"`
}

// Registration is GET /identities/{id}/registration.
type Registration struct {
	ID         string `json:"id"`
	Registered bool   `json:"registered"`
}

// DialogRequest is POST /dialogs: open a dialog from an unlocked consumer
// identity of this node to a provider.
type DialogRequest struct {
	ConsumerID string `json:"consumer_id"`
	ProviderID string `json:"provider_id"`
	// TimeoutMillis bounds the wait for the provider's answer (default 10 s).
	TimeoutMillis int64 `json:"timeout_ms,omitempty"`
}

// Dialog is an open dialog.
type Dialog struct {
	ID         string `json:"id"`
	ConsumerID string `json:"consumer_id"`
	ProviderID string `json:"provider_id"`
}

// PingRequest is POST /dialogs/{id}/ping.
type PingRequest struct {
	TimeoutMillis int64 `json:"timeout_ms,omitempty"`
}

// Ping is one request/response round trip over a dialog.
type Ping struct {
	Seq int64         `json:"seq"`
	RTT time.Duration `json:"rtt_ns"`
}

// ServiceOptions are a service's terms.
type ServiceOptions struct {
	PriceHour     string  `json:"price_hour,omitempty"` // MYSTT per hour, decimal; default 0
	PriceGiB      string  `json:"price_gib,omitempty"`  // MYSTT per GiB, decimal; default 0
	Country       string  `json:"country,omitempty"`    // ISO 3166-1 alpha-2; default: the node's
	City          string  `json:"city,omitempty"`
	BandwidthMbps float64 `json:"bandwidth_mbps,omitempty"`
	MaxSessions   int     `json:"max_sessions,omitempty"` // default 10
}

// ServiceRequest is POST /services.
type ServiceRequest struct {
	ProviderID string         `json:"provider_id"`
	Type       string         `json:"type"`
	Options    ServiceOptions `json:"options"`
}

// Service is a running service.
type Service struct {
	ID          string          `json:"id"`
	ProviderID  string          `json:"provider_id"`
	Type        string          `json:"type"`
	Options     ServiceOptions  `json:"options"`
	Proposal    json.RawMessage `json:"proposal"`
	Sessions    int             `json:"sessions"`
	AnnouncedAt time.Time       `json:"announced_at"`
	AnnounceErr string          `json:"announce_error,omitempty"`
	// Reachability is how consumers reach a tunnel service (public,
	// mapped, cone, symmetric) and Endpoint where.
	Reachability string `json:"reachability,omitempty"`
	Endpoint     string `json:"endpoint,omitempty"`
	// Relay is the tunnel's relayed address on the network's relay, for
	// consumers with no direct path; RelayError says why there is none
	// when the service is behind NAT without a mapping.
	Relay      string    `json:"relay,omitempty"`
	RelayError string    `json:"relay_error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
}

// ServiceList is GET /services.
type ServiceList struct {
	Services []Service `json:"services"`
}

// ProposalList is GET /proposals: verified proposals from discovery.
type ProposalList struct {
	Proposals []json.RawMessage `json:"proposals"`
	Total     int               `json:"total"`
}

// ConnectionRequest is PUT /connection.
type ConnectionRequest struct {
	ConsumerID string `json:"consumer_id"`
	// ProviderID "" connects to the best provider in Country (at most
	// MaxPriceHour and MaxPriceGiB, in MYSTT): the reachable ones first,
	// the cheapest first, the next when one fails.
	ProviderID   string `json:"provider_id"`
	Country      string `json:"country,omitempty"`
	MaxPriceHour string `json:"max_price_hour,omitempty"`
	MaxPriceGiB  string `json:"max_price_gib,omitempty"`
	ServiceType  string `json:"service_type"`
	// KillSwitch blocks all traffic outside the tunnel from connect until
	// disconnect, also when the tunnel is lost (default true).
	KillSwitch *bool `json:"kill_switch,omitempty"`
	// AllowLAN lets the kill switch pass traffic to the local subnets.
	AllowLAN bool `json:"allow_lan,omitempty"`
	// DNS is the resolver while connected: "provider" (default: the
	// provider's resolver, through the tunnel), "system" (leave the
	// host's), or an IP address.
	DNS string `json:"dns,omitempty"`
	// MaxSpend caps what the session may cost, in MYSTT ("": the daemon's
	// --max-spend, if any); at the cap the session ends.
	MaxSpend string `json:"max_spend,omitempty"`
	// Exclude lists IPv4 networks (CIDR) reached outside the tunnel, on
	// the host's own route; the kill switch lets them through. At most
	// 32, none wider than /1.
	Exclude []string `json:"exclude,omitempty"`
	// Only, instead, lists the only IPv4 networks that go through the
	// tunnel (and its DNS); the rest leaves on the host's own route. The
	// kill switch then blocks only these when the tunnel is lost.
	Only []string `json:"only,omitempty"`
	// Reconnect says what a lost connection (kill switch on) tries:
	// "equivalent" (the default: the same provider, then others with the
	// same service type and country at no higher price), "same" (only the
	// same provider) or "off" (none: Blocked at once).
	Reconnect string `json:"reconnect,omitempty"`
}

// Connection states.
const (
	NotConnected  = "NotConnected"
	Connecting    = "Connecting"
	Connected     = "Connected"
	Disconnecting = "Disconnecting"
	// Reconnecting: the tunnel was lost; the kill switch blocks traffic
	// while a new session with the same provider is tried.
	Reconnecting = "Reconnecting"
	// Blocked: the tunnel was lost and could not be brought back; the
	// kill switch blocks all traffic until `myst disconnect`.
	Blocked = "Blocked"
)

// Connection is GET /connection: the consumer's connection.
type Connection struct {
	State       string    `json:"state"`
	ConsumerID  string    `json:"consumer_id,omitempty"`
	ProviderID  string    `json:"provider_id,omitempty"`
	ServiceType string    `json:"service_type,omitempty"`
	SessionID   string    `json:"session_id,omitempty"`
	Since       time.Time `json:"since,omitempty"`
	// LastError says why the last connection ended or failed.
	LastError string `json:"last_error,omitempty"`
	// TunnelIP is the consumer's address inside the tunnel.
	TunnelIP      string        `json:"tunnel_ip,omitempty"`
	BytesSent     uint64        `json:"bytes_sent"`
	BytesReceived uint64        `json:"bytes_received"`
	Duration      time.Duration `json:"duration_ns"`
	Cost          string        `json:"cost,omitempty"` // MYSTT promised in this session
	// SpendPerHour is what the session cost an hour on average so far;
	// MaxSpend the cap it ends at ("" for none).
	SpendPerHour string `json:"spend_per_hour,omitempty"`
	MaxSpend     string `json:"max_spend,omitempty"`
	// KillSwitch says whether traffic outside the tunnel is blocked.
	KillSwitch bool `json:"kill_switch"`
	// DNS is the resolver the host uses while connected ("" when left
	// alone); DNSError says why it does not answer, if it does not.
	DNS      string `json:"dns,omitempty"`
	DNSError string `json:"dns_error,omitempty"`
	// Path is how the tunnel reaches the provider: direct, punched (direct
	// through the provider's NAT, opened by punching), or relayed
	// (through the network's TURN relay).
	Path string `json:"path,omitempty"`
}

// SessionInfo is one provider-side session.
type SessionInfo struct {
	ID          string        `json:"id"`
	ConsumerID  string        `json:"consumer_id"`
	ProviderID  string        `json:"provider_id"`
	ServiceType string        `json:"service_type"`
	ServiceID   string        `json:"service_id"`
	State       string        `json:"state"`
	CreatedAt   time.Time     `json:"created_at"`
	Duration    time.Duration `json:"duration_ns"`
	BytesIn     uint64        `json:"bytes_in"`         // from the consumer
	BytesOut    uint64        `json:"bytes_out"`        // to the consumer
	Amount      string        `json:"amount,omitempty"` // MYSTT promised in this session
	// Paused: forwarding is held at the provider's credit limit until the
	// consumer's reservation is mined.
	Paused bool `json:"paused,omitempty"`
}

// SessionList is GET /sessions.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Earnings is GET /earnings?identity= and POST /settle's answer.
type Earnings struct {
	ProviderID string `json:"provider_id"`
	Settled    string `json:"settled"`   // MYSTT paid out on chain
	Unsettled  string `json:"unsettled"` // MYSTT promised, not yet settled
	Consumers  int    `json:"consumers"`
	// SettleThreshold: unsettled promises of a consumer past it are
	// settled on chain automatically.
	SettleThreshold string `json:"settle_threshold,omitempty"`
}

// SettleRequest is POST /settle.
type SettleRequest struct {
	ProviderID string `json:"provider_id"`
}

// Statistics is GET /connection/statistics.
type Statistics struct {
	Duration      time.Duration `json:"duration_ns"`
	BytesSent     uint64        `json:"bytes_sent"`
	BytesReceived uint64        `json:"bytes_received"`
	Cost          string        `json:"cost"` // MYSTT promised in this session
}

// PaymentsBalance is GET /payments/balance?identity=.
type PaymentsBalance struct {
	ID      string `json:"id"`
	Deposit string `json:"deposit"` // MYSTT in the Payments contract
	Tokens  string `json:"tokens"`  // MYSTT held
	// WithdrawalAt is when an announced withdrawal can complete.
	WithdrawalAt *time.Time `json:"withdrawal_at,omitempty"`
}

// DepositRequest is POST /payments/deposit: the unlocked identity deposits
// its own tokens (and pays gas).
type DepositRequest struct {
	ID     string `json:"identity"`
	Amount string `json:"amount"`
}

// WithdrawRequest is POST /payments/withdraw: announce a withdrawal, or
// complete it once the challenge period is over.
type WithdrawRequest struct {
	ID string `json:"identity"`
	To string `json:"to,omitempty"`
}

// WithdrawResult says what happened.
type WithdrawResult struct {
	Announced       bool      `json:"announced"`
	AvailableAt     time.Time `json:"available_at,omitempty"`
	Withdrawn       string    `json:"withdrawn,omitempty"`
	TransactionHash string    `json:"tx,omitempty"`
}
