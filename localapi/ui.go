package localapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/webui"
)

// The web UI signs in with a one-time code (`myst ui` asks the API for one
// with the bearer token and prints a URL carrying it). The page trades the
// code for an HttpOnly, SameSite=Strict session cookie and a CSRF token;
// the API accepts the cookie only together with that token in the
// X-Myst-CSRF header (which a page of another origin cannot send without a
// CORS preflight this server never allows) and a same-origin Origin when
// the browser sends one. The bearer token keeps working for the CLI.
const (
	CodeTTL    = 2 * time.Minute
	SessionTTL = 12 * time.Hour
	CSRFHeader = "X-Myst-CSRF"
	maxCodes   = 64
	maxUIUsers = 64
)

type uiSession struct {
	csrf    string
	expires time.Time
}

type uiAuth struct {
	mu       sync.Mutex
	codes    map[string]time.Time // one-time code → expiry
	sessions map[string]uiSession // cookie value → session
	now      func() time.Time
}

func newUIAuth() *uiAuth {
	return &uiAuth{codes: map[string]time.Time{}, sessions: map[string]uiSession{}, now: time.Now}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newCode makes a one-time sign-in code.
func (a *uiAuth) newCode() (string, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for c, exp := range a.codes {
		if now.After(exp) {
			delete(a.codes, c)
		}
	}
	for len(a.codes) >= maxCodes { // the oldest go first
		var oldest string
		for c, exp := range a.codes {
			if oldest == "" || exp.Before(a.codes[oldest]) {
				oldest = c
			}
		}
		delete(a.codes, oldest)
	}
	c, exp := randomHex(24), now.Add(CodeTTL)
	a.codes[c] = exp
	return c, exp
}

// redeem trades a code for a session (cookie value, CSRF token).
func (a *uiAuth) redeem(code string) (id string, s uiSession, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, found := a.codes[code]
	delete(a.codes, code)
	now := a.now()
	if !found || now.After(exp) {
		return "", uiSession{}, false
	}
	for k, v := range a.sessions {
		if now.After(v.expires) {
			delete(a.sessions, k)
		}
	}
	if len(a.sessions) >= maxUIUsers {
		for k := range a.sessions {
			delete(a.sessions, k)
			break
		}
	}
	id, s = randomHex(32), uiSession{csrf: randomHex(32), expires: now.Add(SessionTTL)}
	a.sessions[id] = s
	return id, s, true
}

// session is the live session of the request's cookie.
func (a *uiAuth) session(r *http.Request) (string, uiSession, bool) {
	c, err := r.Cookie(cookieName(r))
	if err != nil {
		return "", uiSession{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[c.Value]
	if !ok || a.now().After(s.expires) {
		delete(a.sessions, c.Value)
		return "", uiSession{}, false
	}
	return c.Value, s, true
}

func (a *uiAuth) end(id string) {
	a.mu.Lock()
	delete(a.sessions, id)
	a.mu.Unlock()
}

// cookieName carries the port: browsers share cookies across the ports of
// a host, and two daemons on 127.0.0.1 must not see each other's.
func cookieName(r *http.Request) string {
	_, port, ok := strings.Cut(r.Host, ":")
	if !ok {
		port = "80"
	}
	return "myst_ui_" + port
}

// sameOrigin: a browser's Origin header, when present, names this server.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || o == "http://"+r.Host
}

// uiAllowed says whether a request without the bearer token carries a UI
// session: the cookie, its CSRF token and no foreign origin.
func (a *uiAuth) allowed(r *http.Request) bool {
	if !sameOrigin(r) {
		return false
	}
	_, s, ok := a.session(r)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(s.csrf)) == 1
}

// uiRoutes serves the UI's files and its sign-in, outside the token check.
func (a *uiAuth) routes(mux *http.ServeMux) {
	static, err := fs.Sub(webui.Files, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(static))
	mux.HandleFunc("GET /ui/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusFound)
	})
	mux.HandleFunc("POST /ui/session", func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			writeJSON(w, http.StatusForbidden, api.Error{Error: "sign-in from another origin refused"})
			return
		}
		var req api.UISignIn
		if !readJSON(w, r, &req) {
			return
		}
		id, s, ok := a.redeem(req.Code)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: "this sign-in link is wrong, used already or expired: run `myst ui` for a new one", Field: "code"})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			MaxAge: int(SessionTTL / time.Second)})
		writeJSON(w, http.StatusOK, api.UISession{CSRF: s.csrf, Expires: s.expires.UTC()})
	})
	mux.HandleFunc("GET /ui/session", func(w http.ResponseWriter, r *http.Request) {
		_, s, ok := a.session(r)
		if !ok || !sameOrigin(r) {
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: "not signed in: run `myst ui` and open the link it prints"})
			return
		}
		writeJSON(w, http.StatusOK, api.UISession{CSRF: s.csrf, Expires: s.expires.UTC()})
	})
	mux.HandleFunc("DELETE /ui/session", func(w http.ResponseWriter, r *http.Request) {
		if id, _, ok := a.session(r); ok && a.allowed(r) {
			a.end(id)
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}
