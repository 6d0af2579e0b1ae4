package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// req sends one request to h with the given headers ("Host" sets the
// Host header) and returns the status code.
func req(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) int {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	for k, v := range hdr {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestWritesNeedJSON: a web page can POST text/plain or a form to any
// origin without a CORS preflight; the API refuses every POST that is not
// application/json, before the action runs.
func TestWritesNeedJSON(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return "ok" }})
	for _, ct := range []string{"", "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp", "bad/;;"} {
		hdr := map[string]string{}
		if ct != "" {
			hdr["Content-Type"] = ct
		}
		if code := req(t, h, "POST", "/api/call", `{"to":"1002"}`, hdr); code != http.StatusUnsupportedMediaType {
			t.Errorf("POST /api/call Content-Type %q: %d, want 415", ct, code)
		}
		if code := req(t, h, "POST", "/api/hangup", ``, hdr); code != http.StatusUnsupportedMediaType {
			t.Errorf("POST /api/hangup Content-Type %q: %d, want 415", ct, code)
		}
	}
	if len(r.calls) != 0 {
		t.Fatalf("refused requests reached the phone: %v", r.calls)
	}
	if code := req(t, h, "POST", "/api/call", `{"to":"1002"}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}); code != 200 {
		t.Fatalf("application/json with charset: %d", code)
	}
}

// TestForeignOriginRefused: a browser names the page's origin; only the
// API's own origin may act or read.
func TestForeignOriginRefused(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return "ok" }})
	json := map[string]string{"Content-Type": "application/json"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range json {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, o := range []string{"http://evil.example", "https://127.0.0.1:8080", "http://127.0.0.1:8081", "http://127.0.0.1", "null", "file://", "http://127.0.0.1:8080/x", "http://a@127.0.0.1:8080", "::"} {
		if code := req(t, h, "POST", "/api/call", `{"to":"1002"}`, with(map[string]string{"Origin": o})); code != http.StatusForbidden {
			t.Errorf("POST with Origin %q: %d, want 403", o, code)
		}
		if code := req(t, h, "GET", "/api/status", ``, map[string]string{"Origin": o}); code != http.StatusForbidden {
			t.Errorf("GET with Origin %q: %d, want 403", o, code)
		}
	}
	if len(r.calls) != 0 {
		t.Fatalf("refused requests reached the phone: %v", r.calls)
	}
	// The API's own page (same scheme, host and port) is fine.
	for _, c := range [][2]string{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost:8080", "http://LOCALHOST:8080"},
		{"localhost", "http://localhost:80"},
		{"[::1]:8080", "http://[::1]:8080"},
	} {
		if code := req(t, h, "POST", "/api/answer", ``, with(map[string]string{"Host": c[0], "Origin": c[1]})); code != 200 {
			t.Errorf("Host %s Origin %s: %d, want 200", c[0], c[1], code)
		}
	}
}

// TestRebindingHostRefused: a page whose DNS name was rebound to
// 127.0.0.1 reaches the API with its own name in Host; reads are refused
// too, or the page could read the status.
func TestRebindingHostRefused(t *testing.T) {
	h := Handler(Config{Actions: &rec{}, Status: func() any { return "ok" }})
	for _, host := range []string{"evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example", "192.0.2.7:8080", "", "[fe80::1%25eth0]"} {
		if code := req(t, h, "GET", "/api/status", ``, map[string]string{"Host": host}); code != http.StatusMisdirectedRequest {
			t.Errorf("GET /api/status Host %q: %d, want 421", host, code)
		}
		if code := req(t, h, "POST", "/api/answer", ``, map[string]string{"Host": host, "Content-Type": "application/json"}); code != http.StatusMisdirectedRequest {
			t.Errorf("POST /api/answer Host %q: %d, want 421", host, code)
		}
	}
	for _, host := range []string{"127.0.0.1:8080", "127.0.0.1", "127.0.0.1:18080", "localhost", "LocalHost:8080", "localhost.", "[::1]:8080", "[::1]", "127.1.2.3:8080"} {
		if code := req(t, h, "GET", "/api/status", ``, map[string]string{"Host": host}); code != 200 {
			t.Errorf("GET /api/status Host %q: %d, want 200", host, code)
		}
	}

	// Listening on every interface: any of the phone's addresses, with
	// or without a port, and nothing else.
	addrs := func() ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}, nil
	}
	h = Handler(Config{Listen: "0.0.0.0:8080", Token: "t", InterfaceAddrs: addrs, Actions: &rec{}, Status: func() any { return "ok" }})
	auth := func(host string) map[string]string {
		return map[string]string{"Host": host, "Authorization": "Bearer t"}
	}
	for _, host := range []string{"192.0.2.7", "192.0.2.7:8080", "[2001:db8::7]:8080", "localhost:8080"} {
		if code := req(t, h, "GET", "/api/status", ``, auth(host)); code != 200 {
			t.Errorf("0.0.0.0: Host %q: %d, want 200", host, code)
		}
	}
	for _, host := range []string{"192.0.2.8:8080", "evil.example:8080", "[2001:db8::8]"} {
		if code := req(t, h, "GET", "/api/status", ``, auth(host)); code != http.StatusMisdirectedRequest {
			t.Errorf("0.0.0.0: Host %q: %d, want 421", host, code)
		}
	}
	// Bound to one address: that one (and loopback), not the others.
	h = Handler(Config{Listen: "192.0.2.9:8080", Token: "t", InterfaceAddrs: addrs, Actions: &rec{}, Status: func() any { return "ok" }})
	if code := req(t, h, "GET", "/api/status", ``, auth("192.0.2.9:8080")); code != 200 {
		t.Errorf("own address: %d", code)
	}
	if code := req(t, h, "GET", "/api/status", ``, auth("192.0.2.7:8080")); code != http.StatusMisdirectedRequest {
		t.Errorf("another interface: %d, want 421", code)
	}
}

// TestCurlStyleAccepted: curl and scripts send no Origin; with the
// JSON content type they keep working, over a real connection.
func TestCurlStyleAccepted(t *testing.T) {
	r := &rec{}
	s, err := Start(Config{Listen: "127.0.0.1:0", Actions: r, Status: func() any { return "up" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr().String()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/status", ""},
		{"POST", "/api/call", `{"to":"1002"}`},
		{"POST", "/api/hangup", ""},
	} {
		rq, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		rq.Header.Set("User-Agent", "curl/8.5.0")
		rq.Header.Set("Accept", "*/*")
		if c.method == "POST" {
			rq.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
	if got := strings.Join(r.calls, ","); got != "call 1002,hangup" {
		t.Fatalf("calls %s", got)
	}
}

// TestForbiddenAction: an action refused as ErrForbidden (a service code
// that wipes the phone) is answered 403.
func TestForbiddenAction(t *testing.T) {
	h := Handler(Config{Actions: forbidding{&rec{}}, Status: func() any { return "ok" }})
	if code := req(t, h, "POST", "/api/call", `{"to":"**73738"}`, map[string]string{"Content-Type": "application/json"}); code != http.StatusForbidden {
		t.Fatalf("forbidden action: %d, want 403", code)
	}
}

type forbidding struct{ *rec }

func (forbidding) Call(_ context.Context, to string) error {
	return fmt.Errorf("daemon: %s: %w", to, ErrForbidden)
}
