package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
)

// ErrUnreachable means the Discovery API did not answer.
var ErrUnreachable = errors.New("cannot reach the discovery API")

// Client talks to a Discovery API.
type Client struct {
	base string
	http *http.Client
}

// NewClient talks to the API at baseURL (http://host:port).
func NewClient(baseURL string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{Timeout: 30 * time.Second}}
}

// HTTPError is an error answer of the API.
type HTTPError struct {
	Status int
	Body   APIError
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("discovery: %s (HTTP %d)", e.Body.Error, e.Status)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w: read answer: %v", ErrUnreachable, err)
	}
	if resp.StatusCode >= 300 {
		e := &HTTPError{Status: resp.StatusCode}
		if json.Unmarshal(raw, &e.Body) != nil || e.Body.Error == "" {
			e.Body.Error = resp.Status
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
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
func (c *Client) Search(ctx context.Context, query url.Values) (found []Found, total, dropped int, err error) {
	var r SearchResult
	if err := c.do(ctx, http.MethodGet, "/v1/proposals?"+query.Encode(), nil, &r); err != nil {
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

// Health checks the API answers and its database is up.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthcheck", nil, nil)
}
