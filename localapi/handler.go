// Package localapi serves the node's local REST API: the HTTP handlers over
// a Node (the node), the bearer-token check, and the one place where the
// node's errors become HTTP statuses.
package localapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/node"
	"github.com/mystnode/myst/proposal"
)

// Node is what the handlers need from the node.
type Node interface {
	Health() api.Health
	NAT() api.NAT
	Identities() ([]api.Identity, error)
	CreateIdentity(passphrase string) (string, error)
	Unlock(id, passphrase string) error
	Registration(ctx context.Context, id string) (api.Registration, error)
	Register(ctx context.Context, id string) (api.Registration, error)
	OpenDialog(ctx context.Context, req api.DialogRequest) (api.Dialog, error)
	Ping(ctx context.Context, dialogID string, req api.PingRequest) (api.Ping, error)
	CloseDialog(dialogID string) error

	StartService(ctx context.Context, o node.Offer) (api.Service, error)
	Services() []api.Service
	StopService(ctx context.Context, id string) error
	Proposals(ctx context.Context, f discovery.Filter) (api.ProposalList, error)
	Connect(ctx context.Context, req api.ConnectionRequest) (api.Connection, error)
	Connection() api.Connection
	Disconnect(ctx context.Context) (api.Connection, error)
	Sessions() []api.SessionInfo
	Earnings(ctx context.Context, id string) (api.Earnings, error)
	Settle(ctx context.Context, id string) (api.Earnings, error)
	PaymentsBalance(ctx context.Context, id string) (api.PaymentsBalance, error)
	Deposit(ctx context.Context, req api.DepositRequest) (api.PaymentsBalance, error)
	Withdraw(ctx context.Context, req api.WithdrawRequest) (api.WithdrawResult, error)
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Handler serves the API. Every request must carry "Authorization: Bearer
// <token>". metrics, if not nil, is served at /metrics behind the same token.
func Handler(b Node, token string, metrics http.Handler) http.Handler {
	ui := newUIAuth()
	mux := http.NewServeMux()
	// A one-time sign-in code for the web UI: the bearer token only (the
	// CLI's `myst ui`), never a UI session.
	mux.HandleFunc("POST /ui/codes", func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			writeJSON(w, http.StatusForbidden, api.Error{Error: "sign-in codes are given to the API token's holder only: run `myst ui`"})
			return
		}
		code, exp := ui.newCode()
		writeJSON(w, http.StatusCreated, api.UICode{Code: code, Expires: exp.UTC()})
	})
	identityRoutes(mux, b)
	dialogRoutes(mux, b)
	serviceRoutes(mux, b)
	connectionRoutes(mux, b)
	paymentRoutes(mux, b)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	top := http.NewServeMux()
	ui.routes(top)
	top.Handle("/", requireToken(token, ui, mux))
	return top
}

// identityRoutes: health, NAT, identities and their registration.
func identityRoutes(mux *http.ServeMux, b Node) {
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Health())
	})
	mux.HandleFunc("GET /nat", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.NAT())
	})
	mux.HandleFunc("GET /identities", func(w http.ResponseWriter, r *http.Request) {
		ids, err := b.Identities()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, api.IdentityList{Identities: ids})
	})
	mux.HandleFunc("POST /identities", func(w http.ResponseWriter, r *http.Request) {
		var req api.PassphraseRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.Passphrase == "" {
			writeJSON(w, http.StatusBadRequest, api.Error{Error: "passphrase is empty", Field: "passphrase"})
			return
		}
		id, err := b.CreateIdentity(req.Passphrase)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, api.Identity{ID: id})
	})
	mux.HandleFunc("PUT /identities/{id}/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req api.PassphraseRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.Unlock(r.PathValue("id"), req.Passphrase); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, api.Identity{ID: r.PathValue("id"), Unlocked: true})
	})
	mux.HandleFunc("GET /identities/{id}/registration", func(w http.ResponseWriter, r *http.Request) {
		reg, err := b.Registration(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, reg)
	})
	mux.HandleFunc("POST /identities/{id}/register", func(w http.ResponseWriter, r *http.Request) {
		reg, err := b.Register(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, reg)
	})
}

// dialogRoutes: dialogs between identities (ping).
func dialogRoutes(mux *http.ServeMux, b Node) {
	mux.HandleFunc("POST /dialogs", func(w http.ResponseWriter, r *http.Request) {
		var req api.DialogRequest
		if !readJSON(w, r, &req) {
			return
		}
		d, err := b.OpenDialog(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, d)
	})
	mux.HandleFunc("POST /dialogs/{id}/ping", func(w http.ResponseWriter, r *http.Request) {
		var req api.PingRequest
		if r.ContentLength != 0 && !readJSON(w, r, &req) {
			return
		}
		p, err := b.Ping(r.Context(), r.PathValue("id"), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("DELETE /dialogs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.CloseDialog(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// serviceRoutes: the provider's services and sessions, and proposals.
func serviceRoutes(mux *http.ServeMux, b Node) {
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		var req api.ServiceRequest
		if !readJSON(w, r, &req) {
			return
		}
		o, err := offerOf(req)
		if err != nil {
			writeError(w, err)
			return
		}
		svc, err := b.StartService(r.Context(), o)
		if err != nil {
			writeError(w, inOptions(err))
			return
		}
		writeJSON(w, http.StatusCreated, svc)
	})
	mux.HandleFunc("GET /services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.ServiceList{Services: b.Services()})
	})
	mux.HandleFunc("DELETE /services/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.StopService(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /proposals", func(w http.ResponseWriter, r *http.Request) {
		f, err := discovery.ParseFilter(r.URL.Query())
		if err != nil {
			var fe *proposal.FieldError
			errors.As(err, &fe)
			writeJSON(w, http.StatusBadRequest, api.Error{Error: err.Error(), Field: fe.Field})
			return
		}
		l, err := b.Proposals(r.Context(), f)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, l)
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.SessionList{Sessions: b.Sessions()})
	})
}

// connectionRoutes: the consumer's connection.
func connectionRoutes(mux *http.ServeMux, b Node) {
	mux.HandleFunc("PUT /connection", func(w http.ResponseWriter, r *http.Request) {
		var req api.ConnectionRequest
		if !readJSON(w, r, &req) {
			return
		}
		c, err := b.Connect(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("GET /connection", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Connection())
	})
	mux.HandleFunc("DELETE /connection", func(w http.ResponseWriter, r *http.Request) {
		c, err := b.Disconnect(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("GET /connection/statistics", func(w http.ResponseWriter, r *http.Request) {
		c := b.Connection()
		writeJSON(w, http.StatusOK, api.Statistics{Duration: c.Duration, BytesSent: c.BytesSent, BytesReceived: c.BytesReceived, Cost: c.Cost})
	})
}

// paymentRoutes: earnings, settlement, deposits and withdrawals.
func paymentRoutes(mux *http.ServeMux, b Node) {
	mux.HandleFunc("GET /earnings", func(w http.ResponseWriter, r *http.Request) {
		e, err := b.Earnings(r.Context(), r.URL.Query().Get("identity"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("POST /settle", func(w http.ResponseWriter, r *http.Request) {
		var req api.SettleRequest
		if !readJSON(w, r, &req) {
			return
		}
		e, err := b.Settle(r.Context(), req.ProviderID)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("GET /payments/balance", func(w http.ResponseWriter, r *http.Request) {
		bal, err := b.PaymentsBalance(r.Context(), r.URL.Query().Get("identity"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, bal)
	})
	mux.HandleFunc("POST /payments/deposit", func(w http.ResponseWriter, r *http.Request) {
		var req api.DepositRequest
		if !readJSON(w, r, &req) {
			return
		}
		bal, err := b.Deposit(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, bal)
	})
	mux.HandleFunc("POST /payments/withdraw", func(w http.ResponseWriter, r *http.Request) {
		var req api.WithdrawRequest
		if !readJSON(w, r, &req) {
			return
		}
		res, err := b.Withdraw(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// requireToken lets through requests with the bearer token, and the web
// UI's with its session cookie and CSRF token.
func requireToken(token string, ui *uiAuth, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 && (len(got) > 0 || !ui.allowed(r)) {
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: "missing or wrong API token: send Authorization: Bearer <contents of <data-dir>/api-token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return httpjson.Read(w, r, maxBody, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }

func writeError(w http.ResponseWriter, err error) {
	status, field := statusOf(err)
	writeJSON(w, status, api.Error{Error: err.Error(), Field: field})
}
