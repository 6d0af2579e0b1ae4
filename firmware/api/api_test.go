package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type rec struct{ calls []string }

func (r *rec) Call(_ context.Context, to string) error {
	r.calls = append(r.calls, "call "+to)
	if to == "busy" {
		return errors.New("phone: busy")
	}
	return nil
}
func (r *rec) Answer(context.Context) error { r.calls = append(r.calls, "answer"); return nil }
func (r *rec) Hangup(context.Context) error { r.calls = append(r.calls, "hangup"); return nil }
func (r *rec) SendDTMF(_ context.Context, d string) error {
	r.calls = append(r.calls, "dtmf "+d)
	return nil
}
func (r *rec) Hold(context.Context) error   { r.calls = append(r.calls, "hold"); return nil }
func (r *rec) Resume(context.Context) error { r.calls = append(r.calls, "resume"); return nil }
func (r *rec) Key(_ context.Context, k string) error {
	r.calls = append(r.calls, "key "+k)
	return nil
}

// do sends a request the way curl or a script does: Host 127.0.0.1:8080,
// no Origin, JSON for POSTs.
func do(t *testing.T, h http.Handler, method, path, body, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "127.0.0.1:8080"
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func TestActionsAndStatus(t *testing.T) {
	r := &rec{}
	h := Handler(Config{Actions: r, Status: func() any { return map[string]any{"registration": map[string]string{"state": "registered"}} }})
	if code, body := do(t, h, "GET", "/api/status", "", ""); code != 200 || !strings.Contains(body, `"state": "registered"`) {
		t.Fatalf("status: %d %s", code, body)
	}
	cases := []struct {
		path, body string
		code       int
	}{
		{"/api/call", `{"to":"1002"}`, 200},
		{"/api/call", `{}`, 400},
		{"/api/call", `{"to":"busy"}`, 409},
		{"/api/call", `not json`, 400},
		{"/api/answer", ``, 200},
		{"/api/dtmf", `{"digits":"12#"}`, 200},
		{"/api/dtmf", `{"digits":"1x"}`, 400},
		{"/api/hold", ``, 200},
		{"/api/resume", ``, 200},
		{"/api/key", `{"key":"hold"}`, 200},
		{"/api/key", `{"hook":"off"}`, 200},
		{"/api/key", `{}`, 400},
		{"/api/hangup", ``, 200},
	}
	for _, c := range cases {
		if code, body := do(t, h, "POST", c.path, c.body, ""); code != c.code {
			t.Errorf("POST %s %s: %d %s, want %d", c.path, c.body, code, body, c.code)
		}
	}
	want := "call 1002,call busy,answer,dtmf 12#,hold,resume,key hold,key hook:off,hangup"
	if got := strings.Join(r.calls, ","); got != want {
		t.Fatalf("calls %s\nwant  %s", got, want)
	}
	if code, _ := do(t, h, "GET", "/api/call", "", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /api/call: %d", code)
	}
}

func TestTokenRequiredBeyondLoopback(t *testing.T) {
	if _, err := Start(Config{Listen: "0.0.0.0:0", Actions: &rec{}, Status: func() any { return nil }}); !errors.Is(err, ErrTokenRequired) {
		t.Fatalf("err = %v, want ErrTokenRequired", err)
	}
	h := Handler(Config{Token: "s3cret", Actions: &rec{}, Status: func() any { return "ok" }})
	if code, _ := do(t, h, "GET", "/api/status", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := do(t, h, "GET", "/api/status", "", "wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := do(t, h, "GET", "/api/status", "", "s3cret"); code != 200 {
		t.Fatalf("right token: %d", code)
	}
}

func TestStartServesOnLoopback(t *testing.T) {
	s, err := Start(Config{Listen: "127.0.0.1:0", Actions: &rec{}, Status: func() any { return "up" }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr().String() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, l := range []string{"127.0.0.1:1", "localhost:80", "[::1]:80"} {
		if !Loopback(l) {
			t.Errorf("%s not loopback", l)
		}
	}
	for _, l := range []string{"0.0.0.0:80", "192.0.2.1:80", ":80", "bad"} {
		if Loopback(l) {
			t.Errorf("%s loopback", l)
		}
	}
}
