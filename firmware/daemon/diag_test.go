package daemon

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/promtext"
	"github.com/deskphone/phone/voip/sip"
)

// value is the one sample of name whose labels include want (nil: the
// family's only sample); ok is false when there is none.
func value(fams []promtext.Family, name string, want map[string]string) (float64, bool) {
	for _, s := range promtext.Find(fams, name) {
		match := true
		for k, v := range want {
			match = match && s.Labels[k] == v
		}
		if match {
			return s.Value, true
		}
	}
	return 0, false
}

// TestMetricsDuringCall: two phones on the PBX call each other; the
// caller's /metrics, fetched over HTTP with the API token and parsed
// strictly, shows the registration, the call and its RTP, the NAT and
// the process; the SIP trace switched on through the API holds the
// INVITE with its addresses.
func TestMetricsDuringCall(t *testing.T) {
	p := startPBX(t)
	const token = "metrics-test-token-0123456789"
	// A free port for A's API, picked first: d.api is set in Run.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	apiAddr := l.Addr().String()
	l.Close()
	a := startPhoneWith(t, p, "1001", "pw1001", 31460, 440, func(c *config.Config) {
		c.API.Listen, c.API.Token = apiAddr, token
	})
	b := startPhone(t, p, "1002", "pw1002", 31660, 1000)
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })
	waitFor(t, "A's API", 5*time.Second, func() bool {
		c, err := net.Dial("tcp", apiAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	base := "http://" + apiAddr
	get := func(path string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, _ := get("/metrics", false); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d", code)
	}
	put := func(body string) int {
		req, _ := http.NewRequest("PUT", base+"/api/trace", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	sip.DefaultTrace.Clear()
	if code := put(`{"enabled": true}`); code != 200 {
		t.Fatalf("trace on: %d", code)
	}
	defer sip.DefaultTrace.Clear()
	defer sip.DefaultTrace.SetEnabled(false)

	a.hook.Lift()
	waitFor(t, "A dial tone", 2*time.Second, func() bool { return a.state() == "offhook" })
	a.keys.Type("1002#")
	waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
	b.hook.Lift()
	waitFor(t, "A hears B", 5*time.Second, func() bool { return a.state() == "talking" && a.hears(1000) })

	code, text := get("/metrics", true)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, text)
	}
	fams, err := promtext.Parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"phone_line_registered", map[string]string{"line": "0", "account": "1001@127.0.0.1"}, 1},
		{"phone_line_registration_state", map[string]string{"line": "0", "state": "registered"}, 1},
		{"phone_line_registration_state", map[string]string{"line": "0", "state": "failed"}, 0},
		{"phone_calls_active", map[string]string{"line": "0"}, 1},
		{"phone_calls_total", map[string]string{"direction": "outgoing"}, 1},
		{"phone_calls_total", map[string]string{"direction": "incoming"}, 0},
		{"phone_sip_trace_enabled", nil, 1},
		{"phone_line_sip_transport_up", map[string]string{"line": "0"}, 1},
	} {
		if v, ok := value(fams, c.name, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	for _, name := range []string{"phone_call_rtp_jitter_seconds", "phone_call_rtp_lost_packets", "phone_nat_info",
		"phone_nat_keepalive_bytes_total", "phone_sip_admission_dropped_total", "go_memory_total_bytes", "go_goroutines"} {
		if len(promtext.Find(fams, name)) == 0 {
			t.Errorf("no %s in\n%s", name, text)
		}
	}
	if v, _ := value(fams, "go_memory_total_bytes", nil); v <= 0 {
		t.Errorf("go_memory_total_bytes %v", v)
	}

	code, trace := get("/api/trace.txt", true)
	pbxAddr := p.Addr().String()
	if code != 200 || !strings.Contains(trace, " out UDP 127.0.0.1:") || !strings.Contains(trace, "-> "+pbxAddr+" (") ||
		!strings.Contains(trace, "\nINVITE sip:1002@") || !strings.Contains(trace, `response="<redacted>"`) {
		t.Errorf("trace %d:\n%.3000s", code, trace)
	}
	if strings.Contains(trace, "pw1001") {
		t.Error("the password is in the trace")
	}
	b.hook.HangUp()
	a.hook.HangUp()
	waitFor(t, "calls gone", 5*time.Second, func() bool {
		return len(a.d.Status().Calls) == 0 && len(b.d.Status().Calls) == 0
	})
}

// TestTeeSyslog: with log.syslog set, the logger writes locally and to
// the server (here over TCP, octet-counted).
func TestTeeSyslog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var local bytes.Buffer
	c := config.Log{Level: "info", Syslog: config.Syslog{Server: ln.Addr().String(), Transport: "tcp", Facility: "local0"}}
	log, h, err := TeeSyslog(c, slog.New(slog.NewTextHandler(&local, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	log.With("line", 0).Warn("registration failed", "reason", "wrong password")
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	lenField, err := r.ReadString(' ')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(lenField, " "))
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		t.Fatal(err)
	}
	// local0 (16) × 8 + warning (4) = 132.
	if !strings.HasPrefix(string(msg), "<132>1 ") || !strings.HasSuffix(string(msg), ` msg="registration failed" line=0 reason="wrong password"`) {
		t.Errorf("syslog got %q", msg)
	}
	if !strings.Contains(local.String(), "registration failed") {
		t.Errorf("local log %q", local.String())
	}
	if l, h, err := TeeSyslog(config.Log{}, log); l != log || h != nil || err != nil {
		t.Error("no server: the logger is not returned as it is")
	}
}
