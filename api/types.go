// Package api is the node's local REST API: the request and response types,
// the HTTP handlers over a Backend, and the typed Go client that the CLI and
// the end-to-end tests use.
package api

import "time"

// Error is every error response's body.
type Error struct {
	Error string `json:"error"`
	// Field names the request field at fault, when one is.
	Field string `json:"field,omitempty"`
}

// Health is GET /healthcheck.
type Health struct {
	Status  string        `json:"status"`
	Uptime  time.Duration `json:"uptime_ns"`
	Version string        `json:"version"`
	Broker  string        `json:"broker"` // connected, reconnecting, ...
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
