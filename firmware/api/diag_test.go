package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/deskphone/phone/firmware/promtext"
)

type fakeTrace struct {
	st   TraceState
	msgs []string
}

func (f *fakeTrace) TraceState() TraceState { return f.st }
func (f *fakeTrace) SetTrace(on bool)       { f.st.Enabled = on }
func (f *fakeTrace) ClearTrace()            { f.msgs, f.st.Messages = nil, 0 }
func (f *fakeTrace) WriteTrace(w io.Writer) error {
	_, err := io.WriteString(w, strings.Join(f.msgs, "\n"))
	return err
}

func diagHandler(token string, web http.Handler) (http.Handler, *fakeTrace) {
	tr := &fakeTrace{st: TraceState{Capacity: 256, Messages: 1}, msgs: []string{"REGISTER sip:x SIP/2.0"}}
	return Handler(Config{
		Listen: "0.0.0.0:8080", Token: token, Status: func() any { return nil }, Actions: &rec{},
		InterfaceAddrs: func() ([]netip.Addr, error) { return nil, nil }, Web: web, Trace: tr,
		Metrics: func(w io.Writer) error {
			pw := promtext.NewWriter(w)
			pw.Gauge("phone_up", "Up.", promtext.S(1))
			return pw.Flush()
		},
	}), tr
}

func diagDo(h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestMetricsAuth: /metrics is behind the token as the API is, even with
// the web page mounted at / (which has its own login).
func TestMetricsAuth(t *testing.T) {
	web := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "web page") })
	h, _ := diagHandler("a-long-enough-token", web)
	if w := diagDo(h, "GET", "/metrics", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("without the token: %d %s", w.Code, w.Body)
	}
	w := diagDo(h, "GET", "/metrics", "", "Authorization", "Bearer a-long-enough-token")
	if w.Code != 200 || w.Header().Get("Content-Type") != promtext.ContentType {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if _, err := promtext.Parse(w.Body.String()); err != nil {
		t.Error(err)
	}
	if w := diagDo(h, "GET", "/status", ""); w.Body.String() != "web page" {
		t.Errorf("web page: %d %s", w.Code, w.Body)
	}
}

func TestTraceAPI(t *testing.T) {
	h, tr := diagHandler("", nil)
	if w := diagDo(h, "PUT", "/api/trace", `{"enabled": true}`, "Content-Type", "text/plain"); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain PUT: %d", w.Code)
	}
	for _, bad := range []string{`{}`, `{"enabled": "yes"}`, `{"on": true}`} {
		if w := diagDo(h, "PUT", "/api/trace", bad, "Content-Type", "application/json"); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, w.Code)
		}
	}
	if tr.st.Enabled {
		t.Fatal("switched on by a refused request")
	}
	w := diagDo(h, "PUT", "/api/trace", `{"enabled": true}`, "Content-Type", "application/json")
	var st TraceState
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || w.Code != 200 || !st.Enabled || st.Capacity != 256 {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	w = diagDo(h, "GET", "/api/trace.txt", "")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Disposition"), `attachment; filename="sip-trace-`) || w.Body.String() != "REGISTER sip:x SIP/2.0" {
		t.Errorf("download: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if w := diagDo(h, "DELETE", "/api/trace", ""); w.Code != 200 || tr.msgs != nil {
		t.Errorf("clear: %d", w.Code)
	}
	if w := diagDo(h, "GET", "/api/trace", ""); w.Code != 200 || !strings.Contains(w.Body.String(), `"messages": 0`) {
		t.Errorf("state: %d %s", w.Code, w.Body)
	}
}
