package localapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/node"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/session"
)

// TestStatusOf checks the one mapping from the node's errors to statuses,
// with errors wrapped as the node wraps them.
func TestStatusOf(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		field  string
	}{
		{"bad field", &node.FieldError{Field: "timeout_ms", Err: errors.New("out of range")}, 400, "timeout_ms"},
		{"locked identity", &node.FieldError{Field: "consumer_id", Err: fmt.Errorf("%w: unlock it first", fmt.Errorf("%w: 0x1", identity.ErrLocked))}, 409, "consumer_id"},
		{"unknown identity", &node.FieldError{Field: "id", Err: identity.ErrNotFound}, 404, "id"},
		{"wrong passphrase", &node.FieldError{Field: "passphrase", Err: identity.ErrWrongPassword}, 403, "passphrase"},
		{"provider not registered", &node.FieldError{Field: "provider_id", Err: fmt.Errorf("x: %w", registry.ErrNotRegistered)}, 404, "provider_id"},
		{"unknown dialog", fmt.Errorf("%w %q", node.ErrUnknownDialog, "d1"), 404, ""},
		{"unknown service", fmt.Errorf("%w %q", node.ErrUnknownService, "s1"), 404, ""},
		{"not offered", node.ErrNotOffered, 404, ""},
		{"no discovery", node.ErrNoDiscovery, 409, ""},
		{"no payments", fmt.Errorf("%w to pay with", node.ErrNoPayments), 409, ""},
		{"busy", node.ErrBusy, 409, ""},
		{"not connected", node.ErrNotConnected, 409, ""},
		{"service running", &node.FieldError{Field: "type", Err: node.ErrServiceRunning}, 409, "type"},
		{"challenge period", fmt.Errorf("%w: try again then", payments.ErrChallengePeriod), 409, ""},
		{"stopping", node.ErrStopping, 503, ""},
		{"dialog refused", fmt.Errorf("%w: consumer not registered", dialog.ErrRefused), 403, ""},
		{"session refused", fmt.Errorf("p: %w", &session.RefusedError{Reason: "capacity"}), 403, ""},
		{"no answer", fmt.Errorf("ping: %w", dialog.ErrTimeout), 504, ""},
		{"dialog closed", dialog.ErrClosed, 410, ""},
		{"discovery said no", fmt.Errorf("announce: %w", &discovery.HTTPError{Status: 400, Body: discovery.APIError{Error: "bad", Field: "location.country"}}), 502, "location.country"},
		{"upstream", &node.UpstreamError{Err: errors.New("chain down")}, 502, ""},
		{"anything else", errors.New("disk full"), 500, ""},
	}
	for _, c := range cases {
		status, field := statusOf(c.err)
		if status != c.status || field != c.field {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, field, c.status, c.field)
		}
	}
}
