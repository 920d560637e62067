package localapi

import (
	"errors"
	"net/http"

	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/node"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/session"
)

// statuses maps the errors the node returns to HTTP statuses; the first
// entry that errors.Is matches wins.
var statuses = []struct {
	err    error
	status int
}{
	{node.ErrStopping, http.StatusServiceUnavailable},
	{identity.ErrNotFound, http.StatusNotFound},
	{identity.ErrWrongPassword, http.StatusForbidden},
	{identity.ErrLocked, http.StatusConflict},
	{identity.ErrBadAddress, http.StatusBadRequest},
	{registry.ErrNotRegistered, http.StatusNotFound},
	{node.ErrUnknownDialog, http.StatusNotFound},
	{node.ErrUnknownService, http.StatusNotFound},
	{node.ErrNotOffered, http.StatusNotFound},
	{node.ErrNoDiscovery, http.StatusConflict},
	{node.ErrNoPayments, http.StatusConflict},
	{node.ErrNoGasPayer, http.StatusConflict},
	{node.ErrServiceRunning, http.StatusConflict},
	{node.ErrBusy, http.StatusConflict},
	{node.ErrUnreachable, http.StatusConflict},
	{node.ErrTryLater, http.StatusTooManyRequests},
	{node.ErrNotConnected, http.StatusConflict},
	{node.ErrNoBroker, http.StatusConflict},
	{payments.ErrChallengePeriod, http.StatusConflict},
	{dialog.ErrRefused, http.StatusForbidden},
	{dialog.ErrTimeout, http.StatusGatewayTimeout},
	{dialog.ErrClosed, http.StatusGone},
}

// statusOf is the one place where an error of the node becomes an HTTP
// status, and the request field it blames.
func statusOf(err error) (status int, field string) {
	var fe *node.FieldError
	if errors.As(err, &fe) {
		field = fe.Field
	}
	var he *discovery.HTTPError
	if errors.As(err, &he) && field == "" {
		field = he.Body.Field
	}
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status, field
		}
	}
	var refused *session.RefusedError
	var upstream *node.UpstreamError
	switch {
	case errors.As(err, &refused):
		return http.StatusForbidden, field
	case he != nil, errors.As(err, &upstream):
		return http.StatusBadGateway, field
	case fe != nil:
		return http.StatusBadRequest, field
	}
	return http.StatusInternalServerError, field
}
