package natlab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// liveConfig (issue 15): behind a port-restricted NAT, phoned registered
// with Kamailio gets a wrong password through PATCH /api/config and
// reports the failure in words; the right password, PATCHed again,
// registers without a restart. The row's time is from the second PATCH
// to registered.
func (e *env) liveConfig(t *testing.T) {
	start := time.Now()
	s := e.site(t, PortRestricted)
	user := e.user()
	p := e.startPhoned(t, s, shortName(t), user, KamailioPlain, 700)
	row := Row{Section: "config", Scenario: "password changed live (wrong, then right), port-restricted / kamailio-plain", Phone: "phoned"}
	fail := func(format string, args ...any) {
		row.Outcome, row.Detail = Fail, fmt.Sprintf(format, args...)
		e.record(t, row, start)
	}
	if _, ok := p.WaitFor(context.Background(), 10*time.Second, Registered); !ok {
		fail("not registered at start")
		return
	}
	account := func(pw string) string {
		return fmt.Sprintf(`{"accounts": [{"user": %q, "password": %q, "domain": %q, "registrar": "%s:5060", "expires": "60s"}]}`,
			user, pw, KamailioPlain, KamailioPlain)
	}
	if code, body := p.patchConfig(account("not-the-password")); code != http.StatusOK {
		fail("PATCH wrong password: %d %s", code, body)
		return
	}
	var why string
	if _, ok := p.WaitFor(context.Background(), 10*time.Second, func(*Status) bool {
		why = p.registrationWhy()
		return strings.Contains(why, "credentials")
	}); !ok {
		fail("the wrong password did not show as refused credentials (why %q)", why)
		return
	}
	patched := time.Now()
	if code, body := p.patchConfig(account(SIPPassword)); code != http.StatusOK || !strings.Contains(body, `"restart_required": false`) {
		fail("PATCH right password: %d %s", code, body)
		return
	}
	if st, ok := p.WaitFor(context.Background(), 10*time.Second, Registered); !ok {
		fail("not registered 10 s after the right password (%s %d %s)", st.Registration.State, st.Registration.Code, st.Registration.Reason)
		return
	}
	row.Outcome = Pass
	row.Detail = fmt.Sprintf("refused: %q; registered %.1fs after the PATCH, no restart", why, time.Since(patched).Seconds())
	e.record(t, row, start)
}

// patchConfig sends PATCH /api/config and returns the status and body.
func (p *Phoned) patchConfig(body string) (int, string) {
	req, err := http.NewRequest("PATCH", "http://127.0.0.1:8080/api/config", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	return res.StatusCode, string(b)
}

// registrationWhy is line 0's registration.why ("" when none).
func (p *Phoned) registrationWhy() string {
	res, err := p.client.Get("http://127.0.0.1:8080/api/status")
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var st struct {
		Registration struct {
			Why string `json:"why"`
		} `json:"registration"`
	}
	if json.NewDecoder(res.Body).Decode(&st) != nil {
		return ""
	}
	return st.Registration.Why
}
