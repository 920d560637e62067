package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Backend is what the handlers need from the node.
type Backend interface {
	Health() Health
	Identities() ([]Identity, error)
	CreateIdentity(passphrase string) (string, error)
	Unlock(id, passphrase string) error
	Registration(ctx context.Context, id string) (Registration, error)
	OpenDialog(ctx context.Context, req DialogRequest) (Dialog, error)
	Ping(ctx context.Context, dialogID string, req PingRequest) (Ping, error)
	CloseDialog(dialogID string) error

	StartService(ctx context.Context, req ServiceRequest) (Service, error)
	Services() []Service
	StopService(ctx context.Context, id string) error
	Proposals(ctx context.Context, query url.Values) (ProposalList, error)
	Connect(ctx context.Context, req ConnectionRequest) (Connection, error)
	Connection() Connection
	Disconnect(ctx context.Context) (Connection, error)
	Sessions() []SessionInfo
	Earnings(ctx context.Context, id string) (Earnings, error)
	Settle(ctx context.Context, id string) (Earnings, error)
	PaymentsBalance(ctx context.Context, id string) (PaymentsBalance, error)
	Deposit(ctx context.Context, req DepositRequest) (PaymentsBalance, error)
	Withdraw(ctx context.Context, req WithdrawRequest) (WithdrawResult, error)
}

// StatusError carries the HTTP status a backend error maps to.
type StatusError struct {
	Status int
	Field  string
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Errorf makes a StatusError.
func Errorf(status int, field, format string, args ...any) error {
	return &StatusError{Status: status, Field: field, Err: fmt.Errorf(format, args...)}
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Handler serves the API. Every request must carry "Authorization: Bearer
// <token>". metrics, if not nil, is served at /metrics behind the same token.
func Handler(b Backend, token string, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Health())
	})
	mux.HandleFunc("GET /identities", func(w http.ResponseWriter, r *http.Request) {
		ids, err := b.Identities()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, IdentityList{Identities: ids})
	})
	mux.HandleFunc("POST /identities", func(w http.ResponseWriter, r *http.Request) {
		var req PassphraseRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.Passphrase == "" {
			writeError(w, Errorf(http.StatusBadRequest, "passphrase", "passphrase is empty"))
			return
		}
		id, err := b.CreateIdentity(req.Passphrase)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, Identity{ID: id})
	})
	mux.HandleFunc("PUT /identities/{id}/unlock", func(w http.ResponseWriter, r *http.Request) {
		var req PassphraseRequest
		if !readJSON(w, r, &req) {
			return
		}
		if err := b.Unlock(r.PathValue("id"), req.Passphrase); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, Identity{ID: r.PathValue("id"), Unlocked: true})
	})
	mux.HandleFunc("GET /identities/{id}/registration", func(w http.ResponseWriter, r *http.Request) {
		reg, err := b.Registration(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, reg)
	})
	mux.HandleFunc("POST /dialogs", func(w http.ResponseWriter, r *http.Request) {
		var req DialogRequest
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
		var req PingRequest
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
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		var req ServiceRequest
		if !readJSON(w, r, &req) {
			return
		}
		svc, err := b.StartService(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, svc)
	})
	mux.HandleFunc("GET /services", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ServiceList{Services: b.Services()})
	})
	mux.HandleFunc("DELETE /services/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := b.StopService(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /proposals", func(w http.ResponseWriter, r *http.Request) {
		l, err := b.Proposals(r.Context(), r.URL.Query())
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, l)
	})
	mux.HandleFunc("PUT /connection", func(w http.ResponseWriter, r *http.Request) {
		var req ConnectionRequest
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
		writeJSON(w, http.StatusOK, Statistics{Duration: c.Duration, BytesSent: c.BytesSent, BytesReceived: c.BytesReceived, Cost: c.Cost})
	})
	mux.HandleFunc("GET /earnings", func(w http.ResponseWriter, r *http.Request) {
		e, err := b.Earnings(r.Context(), r.URL.Query().Get("identity"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, e)
	})
	mux.HandleFunc("POST /settle", func(w http.ResponseWriter, r *http.Request) {
		var req SettleRequest
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
		var req DepositRequest
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
		var req WithdrawRequest
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
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, SessionList{Sessions: b.Sessions()})
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return requireToken(token, mux)
}

func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeJSON(w, http.StatusUnauthorized, Error{Error: "missing or wrong API token: send Authorization: Bearer <contents of <data-dir>/api-token>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syntax *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			writeJSON(w, http.StatusRequestEntityTooLarge, Error{Error: fmt.Sprintf("request body over %d bytes", maxBody)})
		case errors.As(err, &typeErr):
			writeJSON(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type), Field: typeErr.Field})
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			writeJSON(w, http.StatusBadRequest, Error{Error: "malformed JSON body: " + err.Error()})
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			writeJSON(w, http.StatusBadRequest, Error{Error: "unknown field " + field, Field: field})
		default:
			writeJSON(w, http.StatusBadRequest, Error{Error: "bad JSON body: " + err.Error()})
		}
		return false
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, Error{Error: "malformed JSON body: trailing data"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		writeJSON(w, se.Status, Error{Error: se.Error(), Field: se.Field})
		return
	}
	writeJSON(w, http.StatusInternalServerError, Error{Error: err.Error()})
}
