package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/relaylink"
	"golang.org/x/time/rate"
)

// Errors of Issue, for errors.Is.
var (
	ErrBadRequest    = errors.New("relay credentials: bad request")
	ErrNotRegistered = errors.New("relay credentials: the identity is not registered")
	ErrTooOften      = errors.New("relay credentials: asked too often")
)

// DefaultTTL is how long issued credentials last. coturn and this relay
// check the expiry on every request of an allocation (refreshes and
// permissions too), so a node allocates again with fresh credentials
// before they end.
const DefaultTTL = 24 * time.Hour

// Issuer gives credentials to registered identities, each at most Burst at
// once and then one per Every (defaults 8 and 30 s): credentials last a
// day, and a node asks again only to re-allocate.
type Issuer struct {
	Secret     []byte
	TTL        time.Duration // default DefaultTTL
	URLs       []string
	Registered func(ctx context.Context, id common.Address) (bool, error)
	Every      time.Duration
	Burst      int

	mu    sync.Mutex
	rates map[common.Address]*rate.Limiter
}

// Issue checks r (signed by its identity within MaxSkew of now, the
// identity registered) and returns credentials for it.
func (is *Issuer) Issue(ctx context.Context, r relaylink.Request, now time.Time) (relaylink.Grant, error) {
	at := time.Unix(r.At, 0)
	if d := now.Sub(at); d > relaylink.MaxSkew || d < -relaylink.MaxSkew {
		return relaylink.Grant{}, fmt.Errorf("%w: its time %s is more than %s from ours (%s): check the clock", ErrBadRequest, at.UTC().Format(time.RFC3339), relaylink.MaxSkew, now.UTC().Format(time.RFC3339))
	}
	if err := identity.Verify(r.ID, relaylink.RequestMessage(r.At), r.Signature); err != nil {
		return relaylink.Grant{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if !is.allow(r.ID, now) {
		return relaylink.Grant{}, fmt.Errorf("%w: %s asked more than %d times within %s; wait", ErrTooOften, r.ID.Hex(), is.burst(), is.every()*time.Duration(is.burst()))
	}
	ok, err := is.Registered(ctx, r.ID)
	if err != nil {
		return relaylink.Grant{}, fmt.Errorf("relay credentials: the registry cannot be asked now: %w", err)
	}
	if !ok {
		return relaylink.Grant{}, fmt.Errorf("%w: %s (`myst identity register`)", ErrNotRegistered, r.ID.Hex())
	}
	ttl := is.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	user, pass, err := Credentials(is.Secret, r.ID, ttl)
	if err != nil {
		return relaylink.Grant{}, err
	}
	return relaylink.Grant{Username: user, Password: pass, Expires: now.Add(ttl).UTC(), URLs: is.URLs}, nil
}

func (is *Issuer) every() time.Duration {
	if is.Every <= 0 {
		return 30 * time.Second
	}
	return is.Every
}

func (is *Issuer) burst() int {
	if is.Burst <= 0 {
		return 8
	}
	return is.Burst
}

// maxTracked bounds the rate table; past it, it starts over (a flood of
// registered identities costs the flooder gas each).
const maxTracked = 100000

func (is *Issuer) allow(id common.Address, now time.Time) bool {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.rates == nil || len(is.rates) >= maxTracked {
		is.rates = map[common.Address]*rate.Limiter{}
	}
	l := is.rates[id]
	if l == nil {
		l = rate.NewLimiter(rate.Every(is.every()), is.burst())
		is.rates[id] = l
	}
	return l.AllowN(now, 1)
}

// Answer answers a request that came over the broker from the identity
// from (the subject's sender, which the broker's permissions vouch for):
// the request must be from's own.
func (is *Issuer) Answer(ctx context.Context, from common.Address, body []byte) []byte {
	var a relaylink.Answer
	var r relaylink.Request
	if err := json.Unmarshal(body, &r); err != nil {
		a.Error = fmt.Sprintf("%v: undecodable: %v", ErrBadRequest, err)
	} else if r.ID != from {
		a.Error = fmt.Sprintf("%v: it names %s but came from %s", ErrBadRequest, r.ID.Hex(), from.Hex())
	} else if g, err := is.Issue(ctx, r, time.Now()); err != nil {
		a.Error = err.Error()
	} else {
		a.Grant = &g
	}
	out, _ := json.Marshal(a)
	return out
}

// GrantFor makes id's credentials straight from the shared secret, for
// relaylink.Config.Grant where no issuer is asked (a test, or a node on
// the relay operator's own host).
func GrantFor(secret []byte, id common.Address, ttl time.Duration) func(context.Context) (relaylink.Grant, error) {
	return func(context.Context) (relaylink.Grant, error) {
		user, pass, err := Credentials(secret, id, ttl)
		return relaylink.Grant{Username: user, Password: pass, Expires: time.Now().Add(ttl)}, err
	}
}
