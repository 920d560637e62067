package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/mystnode/myst/httpjson"
)

// ErrDaemonUnreachable means nothing answers at the API address.
var ErrDaemonUnreachable = errors.New("cannot reach the myst daemon")

// Client is the typed client of the API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient talks to the daemon at addr (host:port) with token.
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{}}
}

// WithDialer returns a client that dials the daemon with dial (for example
// from inside another network namespace).
func (c *Client) WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	return &Client{base: c.base, token: c.token, http: &http.Client{Transport: &http.Transport{DialContext: dial}}}
}

// TokenFile is the API token's file name in the daemon's data dir.
const TokenFile = "api-token"

// ReadToken reads the API token a daemon wrote to path.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read API token: %w (is `myst daemon` running with this --data-dir?)", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// APIError is an error the daemon answered with.
type APIError struct {
	Status int
	Body   Error
}

func (e *APIError) Error() string {
	if e.Body.Field != "" && !strings.HasPrefix(e.Body.Error, e.Body.Field) {
		return e.Body.Field + ": " + e.Body.Error
	}
	return e.Body.Error
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	err := httpjson.Do(ctx, c.http, httpjson.Call{Method: method, URL: c.base + path, In: in, Out: out,
		Header: http.Header{"Authorization": {"Bearer " + c.token}}})
	var se *httpjson.StatusError
	switch {
	case errors.As(err, &se):
		return &APIError{Status: se.Status, Body: se.Body}
	case errors.Is(err, httpjson.ErrUnreachable):
		return fmt.Errorf("%w at %s: %v (start it with `myst daemon`, or check --api-addr)", ErrDaemonUnreachable, c.base, err)
	}
	return err
}

// Health is GET /healthcheck.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, http.MethodGet, "/healthcheck", nil, &h)
}

// Identities is GET /identities.
// UICode asks for a one-time web UI sign-in code.
func (c *Client) UICode(ctx context.Context) (UICode, error) {
	var v UICode
	return v, c.do(ctx, http.MethodPost, "/ui/codes", nil, &v)
}

// NAT is what the daemon knows of its public side.
func (c *Client) NAT(ctx context.Context) (NAT, error) {
	var v NAT
	return v, c.do(ctx, http.MethodGet, "/nat", nil, &v)
}

func (c *Client) Identities(ctx context.Context) ([]Identity, error) {
	var l IdentityList
	err := c.do(ctx, http.MethodGet, "/identities", nil, &l)
	return l.Identities, err
}

// CreateIdentity is POST /identities.
func (c *Client) CreateIdentity(ctx context.Context, passphrase string) (Identity, error) {
	var id Identity
	return id, c.do(ctx, http.MethodPost, "/identities", PassphraseRequest{Passphrase: passphrase}, &id)
}

// Unlock is PUT /identities/{id}/unlock.
func (c *Client) Unlock(ctx context.Context, id, passphrase string) error {
	return c.do(ctx, http.MethodPut, "/identities/"+url.PathEscape(id)+"/unlock", PassphraseRequest{Passphrase: passphrase}, nil)
}

// Registration is GET /identities/{id}/registration.
func (c *Client) Registration(ctx context.Context, id string) (Registration, error) {
	var r Registration
	return r, c.do(ctx, http.MethodGet, "/identities/"+url.PathEscape(id)+"/registration", nil, &r)
}

// OpenDialog is POST /dialogs.
func (c *Client) OpenDialog(ctx context.Context, req DialogRequest) (Dialog, error) {
	var d Dialog
	return d, c.do(ctx, http.MethodPost, "/dialogs", req, &d)
}

// Ping is POST /dialogs/{id}/ping.
func (c *Client) Ping(ctx context.Context, dialogID string, req PingRequest) (Ping, error) {
	var p Ping
	return p, c.do(ctx, http.MethodPost, "/dialogs/"+url.PathEscape(dialogID)+"/ping", req, &p)
}

// CloseDialog is DELETE /dialogs/{id}.
func (c *Client) CloseDialog(ctx context.Context, dialogID string) error {
	return c.do(ctx, http.MethodDelete, "/dialogs/"+url.PathEscape(dialogID), nil, nil)
}

// Metrics returns the Prometheus text of GET /metrics.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrDaemonUnreachable, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// StartService is POST /services.
func (c *Client) StartService(ctx context.Context, req ServiceRequest) (Service, error) {
	var s Service
	return s, c.do(ctx, http.MethodPost, "/services", req, &s)
}

// Services is GET /services.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	var l ServiceList
	err := c.do(ctx, http.MethodGet, "/services", nil, &l)
	return l.Services, err
}

// StopService is DELETE /services/{id}.
func (c *Client) StopService(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/services/"+url.PathEscape(id), nil, nil)
}

// Proposals is GET /proposals.
func (c *Client) Proposals(ctx context.Context, query url.Values) (ProposalList, error) {
	var l ProposalList
	return l, c.do(ctx, http.MethodGet, "/proposals?"+query.Encode(), nil, &l)
}

// Connect is PUT /connection; it returns once connected or refused.
func (c *Client) Connect(ctx context.Context, req ConnectionRequest) (Connection, error) {
	var conn Connection
	return conn, c.do(ctx, http.MethodPut, "/connection", req, &conn)
}

// Connection is GET /connection.
func (c *Client) Connection(ctx context.Context) (Connection, error) {
	var conn Connection
	return conn, c.do(ctx, http.MethodGet, "/connection", nil, &conn)
}

// Disconnect is DELETE /connection.
func (c *Client) Disconnect(ctx context.Context) (Connection, error) {
	var conn Connection
	return conn, c.do(ctx, http.MethodDelete, "/connection", nil, &conn)
}

// Sessions is GET /sessions.
func (c *Client) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var l SessionList
	err := c.do(ctx, http.MethodGet, "/sessions", nil, &l)
	return l.Sessions, err
}

// Earnings is GET /earnings.
func (c *Client) Earnings(ctx context.Context, id string) (Earnings, error) {
	var e Earnings
	return e, c.do(ctx, http.MethodGet, "/earnings?identity="+url.QueryEscape(id), nil, &e)
}

// Settle is POST /settle.
func (c *Client) Settle(ctx context.Context, provider string) (Earnings, error) {
	var e Earnings
	return e, c.do(ctx, http.MethodPost, "/settle", SettleRequest{ProviderID: provider}, &e)
}

// Statistics is GET /connection/statistics.
func (c *Client) Statistics(ctx context.Context) (Statistics, error) {
	var s Statistics
	return s, c.do(ctx, http.MethodGet, "/connection/statistics", nil, &s)
}

// PaymentsBalance is GET /payments/balance.
func (c *Client) PaymentsBalance(ctx context.Context, id string) (PaymentsBalance, error) {
	var b PaymentsBalance
	return b, c.do(ctx, http.MethodGet, "/payments/balance?identity="+url.QueryEscape(id), nil, &b)
}

// Deposit is POST /payments/deposit.
func (c *Client) Deposit(ctx context.Context, req DepositRequest) (PaymentsBalance, error) {
	var b PaymentsBalance
	return b, c.do(ctx, http.MethodPost, "/payments/deposit", req, &b)
}

// Withdraw is POST /payments/withdraw.
func (c *Client) Withdraw(ctx context.Context, req WithdrawRequest) (WithdrawResult, error) {
	var r WithdrawResult
	return r, c.do(ctx, http.MethodPost, "/payments/withdraw", req, &r)
}
