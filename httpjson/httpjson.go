// Package httpjson is the JSON-over-HTTP plumbing that the node's local API
// and the Discovery API share: a client call that sends and decodes JSON
// and turns error answers into one error type, and the handler side's
// strict body reader and writer.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrorBody is the JSON body of every error answer: what went wrong and,
// when a request field is to blame, its name.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// StatusError is an answer with a status of 300 or more.
type StatusError struct {
	Status int
	Body   ErrorBody
	// RetryAfter is the answer's Retry-After in seconds (0: none).
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Body.Error, e.Status)
}

// ErrUnreachable wraps a failure to get any answer (connection refused,
// reset, timed out).
var ErrUnreachable = errors.New("no answer")

// Call is one request: Method and URL, Header added to it, In (if not nil)
// sent as the JSON body, the answer decoded into Out (if not nil), reading
// at most MaxAnswer bytes (default 1 MiB).
type Call struct {
	Method, URL string
	Header      http.Header
	In, Out     any
	MaxAnswer   int64
}

// Do makes the call with client. A transport failure wraps ErrUnreachable
// (or is ctx's error once ctx is done); an answer of 300 or more is a
// *StatusError carrying the answer's ErrorBody, or the status line when the
// body is not one.
func Do(ctx context.Context, client *http.Client, c Call) error {
	var body io.Reader
	if c.In != nil {
		b, err := json.Marshal(c.In)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return err
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	if c.In != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	limit := c.MaxAnswer
	if limit <= 0 {
		limit = 1 << 20
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return fmt.Errorf("%w: read the answer: %v", ErrUnreachable, err)
	}
	if resp.StatusCode >= 300 {
		e := &StatusError{Status: resp.StatusCode}
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			e.RetryAfter = time.Duration(min(n, 3600)) * time.Second
		}
		if json.Unmarshal(raw, &e.Body) != nil || e.Body.Error == "" {
			e.Body = ErrorBody{Error: "answered " + resp.Status}
		}
		return e
	}
	if c.Out != nil {
		if err := json.Unmarshal(raw, c.Out); err != nil {
			return fmt.Errorf("decode the answer: %w", err)
		}
	}
	return nil
}

// Write answers with status and v as JSON (HTML characters not escaped).
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// WriteError answers with status and an ErrorBody.
func WriteError(w http.ResponseWriter, status int, field, format string, args ...any) {
	Write(w, status, ErrorBody{Error: fmt.Sprintf(format, args...), Field: field})
}

// Read decodes a request body of at most max bytes into v strictly: one
// JSON value, no unknown fields, no trailing data. On failure it has
// answered with 400, 408 or 413 naming the problem (and the field where
// there is one) and returns false.
func Read(w http.ResponseWriter, r *http.Request, max int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		status, field, msg := explain(err, max)
		WriteError(w, status, field, "%s", msg)
		return false
	}
	if dec.More() {
		WriteError(w, http.StatusBadRequest, "", "malformed JSON body: trailing data")
		return false
	}
	return true
}

// ReadBody reads a request body of at most max bytes. On failure it returns
// the problem as a *StatusError: 413 for a body over max, 408 for one that
// did not arrive within the server's read timeout, 400 otherwise.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err == nil {
		return body, nil
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &StatusError{Status: http.StatusRequestEntityTooLarge, Body: ErrorBody{Error: fmt.Sprintf("request body over %d bytes", max)}}
	case isTimeout(err):
		return nil, &StatusError{Status: http.StatusRequestTimeout, Body: ErrorBody{Error: "request body arrived too slowly: send it within the server's read timeout"}}
	}
	return nil, &StatusError{Status: http.StatusBadRequest, Body: ErrorBody{Error: "read the request body: " + err.Error()}}
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Decode decodes body into v as strictly as Read does, returning the
// problem as a *StatusError instead of answering.
func Decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		status, field, msg := explain(err, int64(len(body)))
		return &StatusError{Status: status, Body: ErrorBody{Error: msg, Field: field}}
	}
	if dec.More() {
		return &StatusError{Status: http.StatusBadRequest, Body: ErrorBody{Error: "malformed JSON body: trailing data"}}
	}
	return nil
}

func explain(err error, max int64) (status int, field, msg string) {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "", fmt.Sprintf("request body over %d bytes", max)
	case isTimeout(err):
		return http.StatusRequestTimeout, "", "request body arrived too slowly: send it within the server's read timeout"
	case errors.As(err, &typeErr):
		return http.StatusBadRequest, typeErr.Field, fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return http.StatusBadRequest, "", "malformed JSON body: " + err.Error()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for unknown fields.
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return http.StatusBadRequest, f, "unknown field " + f
	}
	return http.StatusBadRequest, "", "bad JSON body: " + err.Error()
}
