package web

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/api"
)

type fakeTrace struct{ st api.TraceState }

func (f *fakeTrace) TraceState() api.TraceState { return f.st }
func (f *fakeTrace) SetTrace(on bool)           { f.st.Enabled = on }
func (f *fakeTrace) ClearTrace()                { f.st.Messages, f.st.Recorded = 0, 0 }
func (f *fakeTrace) WriteTrace(w io.Writer) error {
	_, err := io.WriteString(w, "==== trace\nINVITE sip:1002@pbx SIP/2.0\n")
	return err
}

// TestDiagnosticsTrace: the page switches the SIP trace on and off with
// its CSRF token, clears it and serves the download, all behind the
// login.
func TestDiagnosticsTrace(t *testing.T) {
	e := newEnv(t, testHash)
	tr := &fakeTrace{st: api.TraceState{Capacity: 256, Messages: 3, Recorded: 3}}
	var err error
	e.h, err = New(Config{
		Status: func() any { return testStatus }, Actions: e.phone, Store: e.store,
		Now: e.clock.now, Rand: rand.NewChaCha8([32]byte{1}), Trace: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	anon := e.browser(t)
	if w := anon.get("/diagnostics/trace.txt"); w.Code != http.StatusSeeOther {
		t.Errorf("download without a login: %d", w.Code)
	}
	b := e.browser(t)
	b.mustLogin()
	w := b.get("/diagnostics")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "Trace is <strong>off</strong>: 3 messages held") || !strings.Contains(w.Body.String(), `href="/diagnostics"`) {
		t.Fatalf("page: %d\n%s", w.Code, w.Body)
	}
	if w := b.do("POST", "/diagnostics/trace", url.Values{"enabled": {"on"}, "csrf": {"forged"}}); w.Code != http.StatusForbidden || tr.st.Enabled {
		t.Errorf("forged form: %d, enabled %v", w.Code, tr.st.Enabled)
	}
	if w := b.post("/diagnostics", "/diagnostics/trace", url.Values{"enabled": {"maybe"}}); w.Code != http.StatusBadRequest {
		t.Errorf("enabled=maybe: %d", w.Code)
	}
	if w := b.post("/diagnostics", "/diagnostics/trace", url.Values{"enabled": {"on"}}); w.Code != http.StatusSeeOther || !tr.st.Enabled {
		t.Fatalf("start: %d, enabled %v", w.Code, tr.st.Enabled)
	}
	if w := b.get("/diagnostics"); !strings.Contains(w.Body.String(), "Trace is <strong>on</strong>") || !strings.Contains(w.Body.String(), "SIP trace started") {
		t.Errorf("after start:\n%s", w.Body)
	}
	w = b.get("/diagnostics/trace.txt")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "INVITE sip:1002@pbx") || !strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment;") {
		t.Errorf("download: %d %v\n%s", w.Code, w.Header(), w.Body)
	}
	if w := b.post("/diagnostics", "/diagnostics/trace/clear", nil); w.Code != http.StatusSeeOther || tr.st.Messages != 0 {
		t.Errorf("clear: %d %+v", w.Code, tr.st)
	}
	if w := b.post("/diagnostics", "/diagnostics/trace", url.Values{"enabled": {"off"}}); w.Code != http.StatusSeeOther || tr.st.Enabled {
		t.Errorf("stop: %d, enabled %v", w.Code, tr.st.Enabled)
	}
}
