package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
)

// Request asks for relay credentials: an identity's signature over the
// relay's realm and the time, so that nobody else asks in its name (and
// uses up its allocations).
type Request struct {
	ID        common.Address `json:"id"`
	At        int64          `json:"at"` // unix seconds
	Signature []byte         `json:"signature"`
}

// Grant is issued credentials.
type Grant struct {
	Username string    `json:"username"`
	Password string    `json:"password"`
	Expires  time.Time `json:"expires"`
	URLs     []string  `json:"urls"`
}

// MaxSkew bounds how far a request's time may be from the issuer's.
const MaxSkew = 2 * time.Minute

func requestMessage(at int64) []byte {
	return []byte("myst relay credentials " + Realm + " " + strconv.FormatInt(at, 10))
}

// SignRequest is s's request for credentials, now.
func SignRequest(s *identity.Signer, now time.Time) (Request, error) {
	r := Request{ID: s.Address(), At: now.Unix()}
	sig, err := s.Sign(requestMessage(r.At))
	if err != nil {
		return Request{}, err
	}
	r.Signature = sig
	return r, nil
}

// Errors of Issue, for errors.Is.
var (
	ErrBadRequest    = errors.New("relay credentials: bad request")
	ErrNotRegistered = errors.New("relay credentials: the identity is not registered")
)

// Issuer gives credentials to registered identities.
type Issuer struct {
	Secret     []byte
	TTL        time.Duration // default 10 minutes
	URLs       []string
	Registered func(ctx context.Context, id common.Address) (bool, error)
}

// Issue checks r (signed by its identity within MaxSkew of now, the
// identity registered) and returns credentials for it.
func (is *Issuer) Issue(ctx context.Context, r Request, now time.Time) (Grant, error) {
	at := time.Unix(r.At, 0)
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return Grant{}, fmt.Errorf("%w: its time %s is more than %s from ours (%s): check the clock", ErrBadRequest, at.UTC().Format(time.RFC3339), MaxSkew, now.UTC().Format(time.RFC3339))
	}
	if err := identity.Verify(r.ID, requestMessage(r.At), r.Signature); err != nil {
		return Grant{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	ok, err := is.Registered(ctx, r.ID)
	if err != nil {
		return Grant{}, fmt.Errorf("relay credentials: the registry cannot be asked now: %w", err)
	}
	if !ok {
		return Grant{}, fmt.Errorf("%w: %s (`myst identity register`)", ErrNotRegistered, r.ID.Hex())
	}
	ttl := is.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	user, pass, err := Credentials(is.Secret, r.ID, ttl)
	if err != nil {
		return Grant{}, err
	}
	return Grant{Username: user, Password: pass, Expires: now.Add(ttl).UTC(), URLs: is.URLs}, nil
}
