package netlab

import (
	"net/http"
	"strconv"
)

// BytesHandler is the web host's /bytes?n=N: n zero bytes, for
// throughput measurements.
func BytesHandler(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if n < 0 || n > 1<<30 {
		http.Error(w, "n out of range", http.StatusBadRequest)
		return
	}
	buf := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(buf))
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		n -= k
	}
}
