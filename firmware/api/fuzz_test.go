package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzRequestChecks feeds the Host, Origin and Content-Type checks
// arbitrary header values: no panic, no action for a refused request, and
// an action only for a Host that names the phone, an Origin that is the
// API's own (or none), and a JSON content type.
func FuzzRequestChecks(f *testing.F) {
	for _, s := range [][3]string{
		{"127.0.0.1:8080", "", "application/json"},
		{"localhost", "http://localhost", "application/json; charset=utf-8"},
		{"[::1]:8080", "http://[::1]:8080", "application/json"},
		{"evil.example", "http://evil.example", "text/plain"},
		{"192.0.2.7:8080", "null", "application/x-www-form-urlencoded"},
		{"[fe80::1%eth0]:80", "http://[fe80::1%25eth0]", "application/json;;"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	addrs := func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.7")}, nil }
	f.Fuzz(func(t *testing.T, host, origin, ct string) {
		r := &rec{}
		h := Handler(Config{Listen: "0.0.0.0:8080", Token: "t", InterfaceAddrs: addrs, Actions: r, Status: func() any { return "ok" }})
		req := httptest.NewRequest("POST", "/api/answer", strings.NewReader(""))
		req.Host = host
		req.Header.Set("Authorization", "Bearer t")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		acted := len(r.calls) > 0
		if acted != (w.Code == http.StatusOK) {
			t.Fatalf("code %d, calls %v", w.Code, r.calls)
		}
		if !acted {
			return
		}
		s := newServer(Config{Listen: "0.0.0.0:8080", InterfaceAddrs: addrs})
		if !s.ownHost(host) || (origin != "" && !sameOrigin(origin, req)) || !jsonContent(ct) {
			t.Fatalf("acted on Host %q Origin %q Content-Type %q", host, origin, ct)
		}
		if hp := strings.ToLower(host); strings.Contains(hp, "evil") {
			t.Fatalf("acted on Host %q", host)
		}
	})
}
