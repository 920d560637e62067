package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// stubBackend is a unit-test stand-in; the e2e tests drive the real node.
type stubBackend struct{ opened []DialogRequest }

func (s *stubBackend) Health() Health                        { return Health{Status: "ok"} }
func (s *stubBackend) Identities() ([]Identity, error)       { return []Identity{{ID: "0xabc"}}, nil }
func (s *stubBackend) CreateIdentity(string) (string, error) { return "0xnew", nil }
func (s *stubBackend) Unlock(id, pass string) error {
	if pass != "right" {
		return Errorf(http.StatusForbidden, "passphrase", "wrong passphrase")
	}
	return nil
}
func (s *stubBackend) Registration(context.Context, string) (Registration, error) {
	return Registration{}, errors.New("chain down")
}
func (s *stubBackend) OpenDialog(_ context.Context, r DialogRequest) (Dialog, error) {
	s.opened = append(s.opened, r)
	return Dialog{ID: "d1"}, nil
}
func (s *stubBackend) Ping(context.Context, string, PingRequest) (Ping, error) {
	return Ping{Seq: 1}, nil
}
func (s *stubBackend) CloseDialog(string) error { return nil }

func (s *stubBackend) StartService(context.Context, ServiceRequest) (Service, error) {
	return Service{}, nil
}
func (s *stubBackend) Services() []Service                       { return nil }
func (s *stubBackend) StopService(context.Context, string) error { return nil }
func (s *stubBackend) Proposals(context.Context, url.Values) (ProposalList, error) {
	return ProposalList{}, nil
}
func (s *stubBackend) Connect(context.Context, ConnectionRequest) (Connection, error) {
	return Connection{}, nil
}
func (s *stubBackend) Connection() Connection                         { return Connection{} }
func (s *stubBackend) Disconnect(context.Context) (Connection, error) { return Connection{}, nil }
func (s *stubBackend) Sessions() []SessionInfo                        { return nil }

func (s *stubBackend) Earnings(context.Context, string) (Earnings, error) { return Earnings{}, nil }
func (s *stubBackend) Settle(context.Context, string) (Earnings, error)   { return Earnings{}, nil }

func (s *stubBackend) PaymentsBalance(context.Context, string) (PaymentsBalance, error) {
	return PaymentsBalance{}, nil
}
func (s *stubBackend) Deposit(context.Context, DepositRequest) (PaymentsBalance, error) {
	return PaymentsBalance{}, nil
}
func (s *stubBackend) Withdraw(context.Context, WithdrawRequest) (WithdrawResult, error) {
	return WithdrawResult{}, nil
}

func TestHandlerBadInput(t *testing.T) {
	b := &stubBackend{}
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
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"), "tok")
	err := c.Unlock(context.Background(), "0xabc", "wrong")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Body.Field != "passphrase" {
		t.Fatalf("client error %#v", err)
	}
	if _, err := NewClient("127.0.0.1:1", "tok").Health(context.Background()); !errors.Is(err, ErrDaemonUnreachable) {
		t.Fatalf("unreachable daemon: %v", err)
	}
}
