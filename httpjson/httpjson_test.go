package httpjson

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlowBodyIs408: a request body that does not arrive within the
// server's read timeout is answered 408 naming the cause, by Read and by
// ReadBody; an oversized one is 413.
func TestSlowBodyIs408(t *testing.T) {
	for _, name := range []string{"Read", "ReadBody"} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v map[string]any
				if name == "Read" {
					if Read(w, r, 100, &v) {
						Write(w, http.StatusOK, v)
					}
					return
				}
				if _, err := ReadBody(w, r, 100); err != nil {
					e := err.(*StatusError)
					Write(w, e.Status, e.Body)
					return
				}
				Write(w, http.StatusOK, v)
			}))
			srv.Config.ReadTimeout = 300 * time.Millisecond
			srv.Start()
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")

			status := func(body string, slow bool) string {
				c, err := net.Dial("tcp", host)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, len(body)+10)
				c.Write([]byte(body))
				if !slow {
					c.Write([]byte("          "))
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				return line
			}
			if got := status(`{"a":`, true); !strings.Contains(got, " 408 ") {
				t.Fatalf("slow body: %q", got)
			}
			if got := status(`{"a":"`+strings.Repeat("x", 200)+`"}`, false); !strings.Contains(got, " 413 ") {
				t.Fatalf("large body: %q", got)
			}
			if got := status(`{"a":1}`, false); !strings.Contains(got, " 200 ") {
				t.Fatalf("good body: %q", got)
			}
		})
	}
}
