package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/node"
)

// stubNode is a unit-test stand-in; the e2e tests drive the real node.
type stubNode struct{ opened []api.DialogRequest }

func (s *stubNode) Health() api.Health { return api.Health{Status: "ok"} }
func (s *stubNode) Register(context.Context, string) (api.Registration, error) {
	return api.Registration{}, nil
}
func (s *stubNode) NAT() api.NAT                          { return api.NAT{NAT: "public"} }
func (s *stubNode) Identities() ([]api.Identity, error)   { return []api.Identity{{ID: "0xabc"}}, nil }
func (s *stubNode) CreateIdentity(string) (string, error) { return "0xnew", nil }
func (s *stubNode) Unlock(id, pass string) error {
	if pass != "right" {
		return &node.FieldError{Field: "passphrase", Err: identity.ErrWrongPassword}
	}
	return nil
}
func (s *stubNode) Registration(context.Context, string) (api.Registration, error) {
	return api.Registration{}, errors.New("chain down")
}
func (s *stubNode) OpenDialog(_ context.Context, r api.DialogRequest) (api.Dialog, error) {
	s.opened = append(s.opened, r)
	return api.Dialog{ID: "d1"}, nil
}
func (s *stubNode) Ping(context.Context, string, api.PingRequest) (api.Ping, error) {
	return api.Ping{Seq: 1}, nil
}
func (s *stubNode) CloseDialog(string) error { return nil }

func (s *stubNode) StartService(context.Context, node.Offer) (api.Service, error) {
	return api.Service{}, nil
}
func (s *stubNode) Services() []api.Service                   { return nil }
func (s *stubNode) StopService(context.Context, string) error { return nil }
func (s *stubNode) Proposals(context.Context, discovery.Filter) (api.ProposalList, error) {
	return api.ProposalList{}, nil
}
func (s *stubNode) Connect(context.Context, api.ConnectionRequest) (api.Connection, error) {
	return api.Connection{}, nil
}
func (s *stubNode) Connection() api.Connection { return api.Connection{} }
func (s *stubNode) Disconnect(context.Context) (api.Connection, error) {
	return api.Connection{}, nil
}
func (s *stubNode) Sessions() []api.SessionInfo { return nil }

func (s *stubNode) Earnings(context.Context, string) (api.Earnings, error) {
	return api.Earnings{}, nil
}
func (s *stubNode) Settle(context.Context, string) (api.Earnings, error) {
	return api.Earnings{}, nil
}

func (s *stubNode) PaymentsBalance(context.Context, string) (api.PaymentsBalance, error) {
	return api.PaymentsBalance{}, nil
}
func (s *stubNode) Deposit(context.Context, api.DepositRequest) (api.PaymentsBalance, error) {
	return api.PaymentsBalance{}, nil
}
func (s *stubNode) Withdraw(context.Context, api.WithdrawRequest) (api.WithdrawResult, error) {
	return api.WithdrawResult{}, nil
}

func TestHandlerBadInput(t *testing.T) {
	b := &stubNode{}
	srv := httptest.NewServer(Handler(b, "tok", nil))
	defer srv.Close()
	cases := []struct {
		name, method, path, token, body string
		status                          int
		want                            string
	}{
		{"no token", "GET", "/identities", "", "", 401, "API token"},
		{"wrong token", "GET", "/identities", "nope", "", 401, "API token"},
		{"ok", "GET", "/identities", "tok", "", 200, "0xabc"},
		{"malformed json", "POST", "/dialogs", "tok", `{"consumer_id":`, 400, "malformed JSON"},
		{"wrong type", "POST", "/dialogs", "tok", `{"consumer_id":5}`, 400, `"consumer_id"`},
		{"unknown field", "POST", "/dialogs", "tok", `{"consumer":"x"}`, 400, "unknown field consumer"},
		{"trailing data", "POST", "/dialogs", "tok", `{} {}`, 400, "trailing"},
		{"oversized", "POST", "/dialogs", "tok", `{"consumer_id":"` + strings.Repeat("a", maxBody) + `"}`, 413, "over"},
		{"empty passphrase", "POST", "/identities", "tok", `{"passphrase":""}`, 400, "passphrase"},
		{"backend status", "PUT", "/identities/0xabc/unlock", "tok", `{"passphrase":"wrong"}`, 403, "wrong passphrase"},
		{"backend failure", "GET", "/identities/0xabc/registration", "tok", "", 500, "chain down"},
		{"unknown route", "GET", "/nope", "tok", "", 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, c.status, body)
			}
			if c.want != "" {
				raw, _ := json.Marshal(body)
				if !strings.Contains(string(raw), c.want) {
					t.Fatalf("body %s lacks %q", raw, c.want)
				}
			}
		})
	}
	if len(b.opened) != 0 {
		t.Fatalf("bad requests reached the backend: %v", b.opened)
	}
	// The typed client sees the server's errors as APIError.
	c := api.NewClient(strings.TrimPrefix(srv.URL, "http://"), "tok")
	err := c.Unlock(context.Background(), "0xabc", "wrong")
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Body.Field != "passphrase" {
		t.Fatalf("client error %#v", err)
	}
	if _, err := api.NewClient("127.0.0.1:1", "tok").Health(context.Background()); !errors.Is(err, api.ErrDaemonUnreachable) {
		t.Fatalf("unreachable daemon: %v", err)
	}
}
