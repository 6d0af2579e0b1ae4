package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/voip/sip"
)

// logBuf collects a daemon's log lines for a test.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: level}))
}

// TestDTMFInfoReachesSIP: with dtmf: info the phone sends digits as SIP
// INFO (application/dtmf-relay), which the far end reports as such,
// although both ends offer telephone-event; with the default, RFC 4733.
func TestDTMFInfoReachesSIP(t *testing.T) {
	for _, mode := range []string{"info", "rfc4733"} {
		t.Run(mode, func(t *testing.T) {
			p := startPBXWith(t, "test", map[string]string{"1001": "pw1001", "1002": "pw1002"})
			port := uint16(32060)
			if mode == "rfc4733" {
				port = 32460
			}
			a := startLiveWith(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, port, hzA,
				func(c *config.Config) { c.DTMF = mode }, nil)
			var logs logBuf
			b := startLiveWith(t, []config.Account{pbxAccount(p, "1002", "pw1002", "")}, port+200, hzB, nil, logs.logger(slog.LevelInfo))
			waitFor(t, "both registered", 10*time.Second, func() bool { return a.lineState(0) == "registered" && b.lineState(0) == "registered" })
			ctx := context.Background()
			if err := a.d.ph.Call(ctx, "1002"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
			if err := b.d.ph.Answer(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "both talking", 5*time.Second, func() bool { return a.state() == "talking" && b.state() == "talking" })
			if err := a.d.ph.SendDTMF(ctx, "5"); err != nil {
				t.Fatal(err)
			}
			want := "digit=5 source=" + mode
			waitFor(t, "B receives the digit", 5*time.Second, func() bool { return strings.Contains(logs.String(), want) })
		})
	}
}

// TestStatusDocument: the status document is snake_case throughout
// (no Go field names), versioned, with uptime and the registration's
// times in seconds and RFC 3339.
func TestStatusDocument(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 32860, hzA)
	waitFor(t, "registered", 10*time.Second, func() bool { return lp.lineState(0) == "registered" })
	st := lp.d.Status()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != strings.ToLower(k) || strings.ContainsAny(k, " -") {
					t.Errorf("key %s.%s is not snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("status", doc)
	if doc["schema"] != float64(StatusSchema) || doc["version"] == "" {
		t.Errorf("schema %v, version %v", doc["schema"], doc["version"])
	}
	if u, _ := doc["uptime_s"].(float64); u <= 0 {
		t.Errorf("uptime_s = %v", doc["uptime_s"])
	}
	reg := doc["registration"].(map[string]any)
	exp, _ := reg["expires_s"].(float64)
	in, _ := reg["refresh_in_s"].(float64)
	if exp != 300 || in <= 0 || in > exp {
		t.Errorf("expires_s %v, refresh_in_s %v; want 300 and (0, 300]", reg["expires_s"], reg["refresh_in_s"])
	}
	since, err := time.Parse(time.RFC3339Nano, reg["since"].(string))
	if err != nil || since.IsZero() || since.After(time.Now()) {
		t.Errorf("since = %v (%v)", reg["since"], err)
	}
}

// TestRegStatusCountsDown: refresh_in_s and since_s move with the clock.
func TestRegStatusCountsDown(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := sip.RegStatus{State: sip.RegRegistered, Code: 200, Expires: 300 * time.Second,
		RefreshIn: 255 * time.Second, RefreshAt: t0.Add(255 * time.Second), Since: t0}
	a, b := regStatus(s, t0.Add(5*time.Second), t0), regStatus(s, t0.Add(65*time.Second), t0)
	if a.RefreshInS != 250 || b.RefreshInS != 190 || a.SinceS != 5 || b.SinceS != 65 || a.ExpiresS != 300 {
		t.Errorf("at +5 s %+v; at +65 s %+v", a, b)
	}
	if c := regStatus(s, t0.Add(time.Hour), t0); c.RefreshInS != 0 {
		t.Errorf("overdue refresh_in_s = %v, want 0", c.RefreshInS)
	}
	if z := regStatus(sip.RegStatus{}, t0.Add(time.Minute), t0); z.State != sip.RegUnregistered || !z.Since.Equal(t0) || z.SinceS != 60 {
		t.Errorf("never tried: %+v", z)
	}
}

// TestRegistrationFailureWarnsOncePerChange: a failure is logged at WARN
// with a reason in words, once for each different reason; the same
// failure again is not repeated at WARN.
func TestRegistrationFailureWarnsOncePerChange(t *testing.T) {
	var logs logBuf
	l := &uaLine{log: logs.logger(slog.LevelInfo), name: "1001@pbx"}
	steps := []sip.RegStatus{
		{State: sip.RegRegistering},
		{State: sip.RegFailed, Code: 401, Reason: "authentication failed"},
		{State: sip.RegFailed, Code: 401, Reason: "authentication failed", Failures: 2},
		{State: sip.RegFailed, Reason: "no server of pbx answers (last udp:192.0.2.1:5060: transaction timeout)"},
		{State: sip.RegRegistered, Code: 200},
		{State: sip.RegFailed, Code: 401, Reason: "authentication failed"},
	}
	for _, s := range steps {
		l.logRegistration(s)
	}
	out := logs.String()
	if n := strings.Count(out, "level=WARN"); n != 3 {
		t.Errorf("%d WARN lines, want 3:\n%s", n, out)
	}
	for _, want := range []string{"check the account's user, auth_user and password", "the registrar does not answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestRegWhy(t *testing.T) {
	for _, c := range []struct {
		s    sip.RegStatus
		want string
	}{
		{sip.RegStatus{Code: 403, Reason: "Forbidden"}, "forbids"},
		{sip.RegStatus{Code: 404, Reason: "Not Found"}, "does not know this user"},
		{sip.RegStatus{Code: 503, Reason: "Service Unavailable"}, "unavailable"},
		{sip.RegStatus{Reason: "tls: failed to verify certificate: x509: certificate signed by unknown authority"}, "not trusted"},
		{sip.RegStatus{Reason: "remote error: tls: handshake failure"}, "TLS"},
		{sip.RegStatus{Reason: "lookup pbx.invalid: no such host"}, "does not resolve"},
		{sip.RegStatus{Reason: "dial tcp 127.0.0.1:5061: connect: connection refused"}, "refused the connection"},
	} {
		if got := regWhy(c.s); !strings.Contains(got, c.want) {
			t.Errorf("regWhy(%d %q) = %q, want it to say %q", c.s.Code, c.s.Reason, got, c.want)
		}
	}
}

// TestUnknownKeyIs400: POST /api/key with a key the phone does not have
// is a malformed request (400), not a conflict with the phone's state.
func TestUnknownKeyIs400(t *testing.T) {
	p := startPBXWith(t, "test", map[string]string{"1001": "pw1001"})
	lp := startLive(t, []config.Account{pbxAccount(p, "1001", "pw1001", "")}, 33260, hzA)
	h := api.Handler(api.Config{Listen: "127.0.0.1:8080", Status: func() any { return lp.d.Status() }, Actions: actions{lp.d}})
	for body, want := range map[string]int{`{"key": "no-such-key"}`: 400, `{"key": "5"}`: 200} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/key", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("POST /api/key %s: %d %s, want %d", body, w.Code, w.Body, want)
		}
	}
}
