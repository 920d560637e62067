// Package discovery is the client side of the Discovery API: the typed
// search filter, its query form, and the client nodes announce and search
// with (package discoveryd is the server).
package discovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
)

// ErrUnreachable means the Discovery API did not answer.
var ErrUnreachable = errors.New("cannot reach the discovery API")

// ErrNoProposal is the API's answer about a proposal it does not hold.
var ErrNoProposal = errors.New("no such proposal")

// Client talks to a Discovery API, through any of its replicas.
type Client struct {
	bases []string
	cur   atomic.Int32 // the replica that answered last
	http  *http.Client
	// busy[i] is when replica i, which shed a call (503 with
	// Retry-After), may be asked again (unix nanoseconds).
	busy []atomic.Int64
}

// NewClient talks to the API at baseURLs (http://host:port), replicas of
// one service: a call goes to the one that answered last, and on to the
// next when one is unreachable or answers 502, 503 or 504. A replica that
// sheds a call (503 with Retry-After) is left alone for that long; when
// every replica is, the call waits for the first to be free again (at
// most MaxBackoff) and tries once more.
func NewClient(baseURLs ...string) *Client {
	c := &Client{http: &http.Client{Timeout: 30 * time.Second}}
	for _, u := range baseURLs {
		c.bases = append(c.bases, strings.TrimRight(u, "/"))
	}
	c.busy = make([]atomic.Int64, len(c.bases))
	return c
}

// MaxBackoff bounds how long a call waits for an overloaded Discovery API.
const MaxBackoff = 5 * time.Second

// HTTPError is an error answer of the API.
type HTTPError struct {
	Status int
	Body   APIError
	// RetryAfter is how long the API asked to be left alone (a shed call).
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("discovery: %s (HTTP %d)", e.Body.Error, e.Status)
}

// Is makes a 404 answer match ErrNoProposal.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNoProposal && e.Status == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if len(c.bases) == 0 {
		return fmt.Errorf("%w: no discovery URL", ErrUnreachable)
	}
	var err error
	for round := range 2 {
		start := int(c.cur.Load())
		asked := false
		for i := range c.bases {
			at := (start + i) % len(c.bases)
			if time.Now().UnixNano() < c.busy[at].Load() {
				continue // it shed a call a moment ago
			}
			asked = true
			err = c.doAt(ctx, c.bases[at], method, path, in, out)
			var he *HTTPError
			switch {
			case errors.As(err, &he) && he.Status == http.StatusServiceUnavailable && he.RetryAfter > 0:
				c.busy[at].Store(time.Now().Add(min(he.RetryAfter, 30*time.Second)).UnixNano())
				continue
			case errors.Is(err, ErrUnreachable) && ctx.Err() == nil,
				errors.As(err, &he) && (he.Status == http.StatusBadGateway || he.Status == http.StatusServiceUnavailable || he.Status == http.StatusGatewayTimeout):
				continue // the next replica
			}
			c.cur.Store(int32(at))
			return err
		}
		if round == 1 {
			break
		}
		// Replicas that are up are over capacity (the others did not
		// answer): back off until the first may be asked again, then once
		// more.
		wait := time.Duration(0)
		for i := range c.busy {
			if w := time.Until(time.Unix(0, c.busy[i].Load())); w > 0 && (wait == 0 || w < wait) {
				wait = w
			}
		}
		wait = min(wait, MaxBackoff)
		if wait > 0 {
			wait += time.Duration(rand.Int64N(int64(wait/5) + 1)) // spread the retries
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		} else if asked {
			break // failures other than shedding: do not ask twice
		}
	}
	if err == nil {
		err = fmt.Errorf("%w: every replica is over capacity", ErrUnreachable)
	}
	return err
}

func (c *Client) doAt(ctx context.Context, base, method, path string, in, out any) error {
	err := httpjson.Do(ctx, c.http, httpjson.Call{Method: method, URL: base + path, In: in, Out: out, MaxAnswer: 8 << 20})
	var se *httpjson.StatusError
	switch {
	case errors.As(err, &se):
		return &HTTPError{Status: se.Status, Body: se.Body, RetryAfter: se.RetryAfter}
	case errors.Is(err, httpjson.ErrUnreachable):
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, base, err)
	}
	return err
}

// Announce posts a signed proposal (the first time, or as a keep-alive) and
// returns when it expires unless posted again.
func (c *Client) Announce(ctx context.Context, s *proposal.Signed) (time.Time, error) {
	var r PostResult
	err := c.do(ctx, http.MethodPost, "/v1/proposals", s, &r)
	return r.ExpiresAt, err
}

// Unregister removes signer's proposal of serviceType.
func (c *Client) Unregister(ctx context.Context, signer *identity.Signer, serviceType string) error {
	req, err := proposal.SignDelete(signer, serviceType, time.Now())
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/v1/proposals/"+signer.Address().Hex()+"/"+url.PathEscape(serviceType), req, nil)
}

// Found is a search result whose signature checked out.
type Found struct {
	Proposal *proposal.Proposal
	Signed   proposal.Signed
}

// Search queries proposals. Each result's signature is checked here too; a
// result that fails is left out and counted in dropped.
func (c *Client) Search(ctx context.Context, f Filter) (found []Found, total, dropped int, err error) {
	var r SearchResult
	if err := c.do(ctx, http.MethodGet, "/v1/proposals?"+f.Query().Encode(), nil, &r); err != nil {
		return nil, 0, 0, err
	}
	for _, s := range r.Proposals {
		p, err := s.Open()
		if err != nil {
			dropped++
			continue
		}
		found = append(found, Found{Proposal: p, Signed: s})
	}
	return found, r.Total, dropped, nil
}

// SearchPage sends query as it is and returns the API's answer as is (the
// signatures unchecked): for tools and tests that page by cursor or send
// queries the typed Filter cannot express.
func (c *Client) SearchPage(ctx context.Context, query url.Values) (SearchResult, error) {
	var r SearchResult
	err := c.do(ctx, http.MethodGet, "/v1/proposals?"+query.Encode(), nil, &r)
	return r, err
}

// Health checks the API answers and its database is up.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthcheck", nil, nil)
}
