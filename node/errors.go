package node

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
)

// The node's own errors. Callers tell them apart with errors.Is; errors of
// the packages below (identity.ErrLocked, registry.ErrNotRegistered,
// dialog.ErrTimeout, *session.RefusedError, payments.ErrChallengePeriod,
// *discovery.HTTPError …) come through wrapped, never flattened to text.
var (
	ErrUnknownDialog  = errors.New("no open dialog")
	ErrUnknownService = errors.New("no running service")
	ErrNotOffered     = errors.New("no such service in discovery")
	ErrNoDiscovery    = errors.New("the network file has no discovery_url")
	ErrNoPayments     = errors.New("the network has no payment contracts")
	ErrNoGasPayer     = errors.New("no account to pay gas")
	ErrServiceRunning = errors.New("the service already runs")
	ErrBusy           = errors.New("a connection is already up or on its way")
	ErrTryLater       = errors.New("too many wrong passphrases")
	ErrNotConnected   = errors.New("not connected")
	ErrStopping       = errors.New("the daemon is shutting down")
	// ErrNoBroker: no identity is unlocked yet, so the node has not
	// joined the broker.
	ErrNoBroker  = errors.New("not connected to the broker: unlock an identity first (`myst identity unlock`)")
	ErrBadAnswer = errors.New("the peer answered with other bytes")
)

// FieldError says which request field is wrong. Err says why; it may wrap
// one of the errors above (then that error's meaning wins over "bad
// request").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// UpstreamError is a failure of something the node relies on (the chain,
// the broker, discovery, a peer) rather than of the request.
type UpstreamError struct{ Err error }

func (e *UpstreamError) Error() string { return e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// fieldErrorf makes a FieldError; %w in format keeps the wrapped chain.
func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// upstreamf makes an UpstreamError; %w in format keeps the wrapped chain.
func upstreamf(format string, args ...any) error {
	return &UpstreamError{Err: fmt.Errorf(format, args...)}
}

// parseID reads an identity address from a request field.
func parseID(field, s string) (common.Address, error) {
	a, err := identity.ParseAddress(s)
	if err != nil {
		return common.Address{}, fieldErrorf(field, "%s: %w", field, err)
	}
	return a, nil
}

// unlocked returns the signer of an unlocked identity, or an error naming
// the field and the command that unlocks it.
func (n *Node) unlocked(field string, id common.Address) (*identity.Signer, error) {
	s, err := n.store.Signer(id)
	if err != nil {
		return nil, fieldErrorf(field, "%w: unlock it first (`myst identity unlock %s`)", err, id.Hex())
	}
	return s, nil
}

// textError is err told in other words: errors.Is and errors.As still see
// err.
type textError struct {
	text string
	err  error
}

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return e.err }

// retell gives err the text of format; the chain stays.
func retell(err error, format string, args ...any) error {
	return &textError{text: fmt.Sprintf(format, args...), err: err}
}
