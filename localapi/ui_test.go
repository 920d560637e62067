package localapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
)

// TestUISignIn: a one-time code from the token holder becomes a session
// cookie and CSRF token; the API takes the cookie only with the token and
// from its own origin; a used, wrong or expired code, a missing CSRF
// token, a foreign Origin and an expired session are refused; a UI session
// cannot make sign-in codes.
func TestUISignIn(t *testing.T) {
	b := &stubNode{}
	srv := httptest.NewServer(Handler(b, "tok", nil))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	do := func(c *http.Client, method, path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bearer := map[string]string{"Authorization": "Bearer tok"}

	// The page itself is served to anyone; it reveals nothing.
	if st, body := do(browser, "GET", "/ui/", "", nil); st != 200 || !strings.Contains(body, "<") {
		t.Fatalf("GET /ui/: %d %s", st, body)
	}
	if st, _ := do(browser, "GET", "/identities", "", nil); st != 401 {
		t.Fatalf("no session: %d", st)
	}
	if st, _ := do(browser, "POST", "/ui/codes", "", nil); st != 401 {
		t.Fatalf("a code without the token: %d", st)
	}
	st, body := do(http.DefaultClient, "POST", "/ui/codes", "", bearer)
	var code api.UICode
	if st != 201 || json.Unmarshal([]byte(body), &code) != nil || code.Code == "" {
		t.Fatalf("code: %d %s", st, body)
	}
	if st, body := do(browser, "POST", "/ui/session", `{"code":"`+code.Code+`"}`, map[string]string{"Origin": "http://evil.example"}); st != 403 {
		t.Fatalf("sign-in from another origin: %d %s", st, body)
	}
	if st, body := do(browser, "POST", "/ui/session", `{"code":"nope"}`, nil); st != 401 || !strings.Contains(body, "myst ui") {
		t.Fatalf("wrong code: %d %s", st, body)
	}
	st, body = do(browser, "POST", "/ui/session", `{"code":"`+code.Code+`"}`, nil)
	var sess api.UISession
	if st != 200 || json.Unmarshal([]byte(body), &sess) != nil || sess.CSRF == "" {
		t.Fatalf("sign-in: %d %s", st, body)
	}
	if st, _ := do(browser, "POST", "/ui/session", `{"code":"`+code.Code+`"}`, nil); st != 401 {
		t.Fatalf("a code used twice: %d", st)
	}
	csrf := map[string]string{CSRFHeader: sess.CSRF}
	if st, _ := do(browser, "GET", "/identities", "", csrf); st != 200 {
		t.Fatalf("cookie + CSRF: %d", st)
	}
	if st, _ := do(browser, "GET", "/identities", "", nil); st != 401 {
		t.Fatalf("cookie without CSRF: %d", st)
	}
	if st, _ := do(browser, "GET", "/identities", "", map[string]string{CSRFHeader: "x"}); st != 401 {
		t.Fatalf("cookie with a wrong CSRF token: %d", st)
	}
	if st, _ := do(browser, "GET", "/identities", "", map[string]string{CSRFHeader: sess.CSRF, "Origin": "http://evil.example"}); st != 401 {
		t.Fatalf("cookie + CSRF from another origin: %d", st)
	}
	if st, _ := do(browser, "POST", "/ui/codes", "", csrf); st != 403 {
		t.Fatalf("a UI session made a sign-in code: %d", st)
	}
	if st, body := do(browser, "GET", "/ui/session", "", nil); st != 200 || !strings.Contains(body, sess.CSRF) {
		t.Fatalf("GET /ui/session: %d %s", st, body)
	}
	// The bearer token still works, alone.
	if st, _ := do(http.DefaultClient, "GET", "/identities", "", bearer); st != 200 {
		t.Fatalf("bearer: %d", st)
	}
	// Sign out: the cookie is dead.
	if st, _ := do(browser, "DELETE", "/ui/session", "", csrf); st != 204 {
		t.Fatalf("sign out: %d", st)
	}
	if st, _ := do(browser, "GET", "/identities", "", csrf); st != 401 {
		t.Fatalf("after sign-out: %d", st)
	}
}

// TestUIExpiry: codes and sessions expire.
func TestUIExpiry(t *testing.T) {
	a := newUIAuth()
	now := time.Now()
	a.now = func() time.Time { return now }
	code, _ := a.newCode()
	now = now.Add(CodeTTL + time.Second)
	if _, _, ok := a.redeem(code); ok {
		t.Fatal("an expired code was taken")
	}
	code, _ = a.newCode()
	id, _, ok := a.redeem(code)
	if !ok {
		t.Fatal("a fresh code was refused")
	}
	r := httptest.NewRequest("GET", "http://127.0.0.1:4050/identities", nil)
	r.AddCookie(&http.Cookie{Name: cookieName(r), Value: id})
	if _, _, ok := a.session(r); !ok {
		t.Fatal("a fresh session was refused")
	}
	now = now.Add(SessionTTL + time.Second)
	if _, _, ok := a.session(r); ok {
		t.Fatal("an expired session was taken")
	}
}

// TestUIAddr: --ui-addr serves the same UI and API on a second address,
// with the same sign-in rules.
func TestUIAddr(t *testing.T) {
	s, err := Listen(&stubNode{}, Config{Addr: "127.0.0.1:0", UIAddr: "127.0.0.1:0", TokenPath: t.TempDir() + "/token"})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	for path, want := range map[string]int{"/ui/": 200, "/identities": 401} {
		resp, err := http.Get("http://" + s.UIAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s on --ui-addr: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
