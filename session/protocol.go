// Package session negotiates service sessions over a dialog: the consumer
// asks for a session on a proposal, the provider accepts (with a session id
// and service config) or refuses (with a reason), the consumer acks once
// its data channel is up, keeps the session alive, and either side may
// destroy it.
package session

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/mystnode/myst/proposal"
)

// Dialog topics.
const (
	TopicCreate    = "session-create"
	TopicAck       = "session-ack"
	TopicKeepAlive = "session-keepalive"
	TopicDestroy   = "session-destroy"
	// TopicMove is the provider telling a consumer that the session's data
	// path moved (its relay allocation was made again after a relay
	// restart), with the new config.
	TopicMove = "session-move"
)

// Move is a TopicMove message.
type Move struct {
	SessionID string          `json:"session_id"`
	Config    json.RawMessage `json:"config"`
}

// Refusal reasons a provider gives.
const (
	RefuseUnknownProposal = "unknown proposal"
	RefuseStaleProposal   = "stale proposal"
	RefuseCapacity        = "capacity"
	RefuseUnregistered    = "consumer unregistered"
	RefusePrice           = "price"
	RefuseBadRequest      = "bad request"
	RefuseServiceFailed   = "service failed"
	RefuseDeposit         = "deposit"
	RefuseBusy            = "busy"
)

// CreateRequest asks for a session.
type CreateRequest struct {
	Proposal proposal.Signed `json:"proposal"`
	// AcceptedPrice is the price the consumer agrees to pay; fixed for the
	// session.
	AcceptedPrice proposal.Price `json:"accepted_price"`
	// CorrelationID lets the consumer match logs on both sides.
	CorrelationID string          `json:"correlation_id"`
	Config        json.RawMessage `json:"config,omitempty"`
}

// CreateResponse accepts or refuses.
type CreateResponse struct {
	Accepted      bool            `json:"accepted"`
	SessionID     string          `json:"session_id,omitempty"`
	Config        json.RawMessage `json:"config,omitempty"`
	Reason        string          `json:"reason,omitempty"` // a Refuse* constant
	Detail        string          `json:"detail,omitempty"`
	CorrelationID string          `json:"correlation_id"`
}

// Ack reports whether the consumer brought the data channel up.
type Ack struct {
	SessionID string `json:"session_id"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// KeepAlive says the consumer is still there.
type KeepAlive struct {
	SessionID string `json:"session_id"`
}

// KeepAliveAnswer is the provider's answer to a keep-alive: Known is false
// when it no longer holds the session (the consumer then ends it).
type KeepAliveAnswer struct {
	Known bool `json:"known"`
}

// Destroy ends a session.
type Destroy struct {
	SessionID string `json:"session_id"`
	Reason    string `json:"reason,omitempty"`
}

// RefusedError is a provider's refusal.
type RefusedError struct {
	Reason, Detail string
}

func (e *RefusedError) Error() string { return "refused: " + e.Explain() }

// Explain is the reason with its detail.
func (e *RefusedError) Explain() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

// ErrUnknownSession answers acks and destroys of sessions the provider does
// not hold (keep-alives get a KeepAliveAnswer instead).
var ErrUnknownSession = errors.New("unknown session")

// State of a session on the provider.
type State string

// Session states.
const (
	StateCreated State = "created" // accepted, waiting for the consumer's ack
	StateActive  State = "active"  // acked
	StateEnded   State = "ended"
)

// Info describes a provider-side session.
type Info struct {
	ID          string         `json:"id"`
	ConsumerID  string         `json:"consumer_id"`
	ProviderID  string         `json:"provider_id"`
	ServiceType string         `json:"service_type"`
	ServiceID   string         `json:"service_id"`
	State       State          `json:"state"`
	CreatedAt   time.Time      `json:"created_at"`
	Price       proposal.Price `json:"price"`
	EndReason   string         `json:"end_reason,omitempty"`
}
