package web

import (
	"bytes"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeAgent is initd's update agent: it records what it was sent.
type fakeAgent struct {
	mu     sync.Mutex
	got    []string
	answer int // status of every answer; 0 is 200
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer devtoken-0123456789" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"update: missing or wrong token"}`)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r.URL.RequestURI()+" "+string(b))
	code := f.answer
	f.mu.Unlock()
	if code != 0 {
		w.WriteHeader(code)
		io.WriteString(w, `{"error":"update: bad signature"}`)
		return
	}
	io.WriteString(w, `{"slot":"B","version":"v1.2.3","sha256":"ab12","reboot":true}`)
}

func (f *fakeAgent) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// systemEnv is an env whose page has an Agent over a fake agent.
func systemEnv(t *testing.T, token string) (*env, *fakeAgent) {
	t.Helper()
	e := newEnv(t, testHash)
	fa := &fakeAgent{}
	srv := httptest.NewServer(fa)
	t.Cleanup(srv.Close)
	h, err := New(Config{Status: func() any { return testStatus }, Actions: e.phone, Store: e.store,
		Now: e.clock.now, Rand: rand.NewChaCha8([32]byte{2}), System: &Agent{URL: srv.URL, Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e, fa
}

// uploadForm is the firmware form's body, its fields in the order given.
func uploadForm(t *testing.T, fields [][2]string) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		var w io.Writer
		var err error
		if f[0] == "bundle" {
			w, err = mw.CreateFormFile("bundle", "phone.upd")
		} else {
			w, err = mw.CreateFormField(f[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func (b *browser) upload(fields [][2]string) *httptest.ResponseRecorder {
	b.t.Helper()
	ct, body := uploadForm(b.t, fields)
	r := httptest.NewRequest("POST", "/firmware/update", body)
	r.RemoteAddr = b.remote
	r.Header.Set("Content-Type", ct)
	r.AddCookie(&http.Cookie{Name: sessionCookie(r), Value: b.cookie})
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w
}

func TestFirmwareUpload(t *testing.T) {
	e, fa := systemEnv(t, "devtoken-0123456789")
	b := e.browser(t)
	b.h = e.h
	b.mustLogin()
	tok := b.csrf("/firmware")
	w := b.upload([][2]string{{"csrf", tok}, {"allow_downgrade", "on"}, {"bundle", "BUNDLE-BYTES"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", w.Code, w.Body)
	}
	if got := fa.requests(); !slices.Equal(got, []string{"/update?allow-downgrade=1 BUNDLE-BYTES"}) {
		t.Errorf("the agent got %q", got)
	}
	if w := b.get("/firmware"); !strings.Contains(w.Body.String(), "v1.2.3") {
		t.Error("the page does not show the agent's answer")
	}
	// Refused before the agent sees a byte: no token, a wrong one, the
	// file before the token, no session.
	for _, fields := range [][][2]string{
		{{"bundle", "X"}},
		{{"csrf", "nope"}, {"bundle", "X"}},
		{{"bundle", "X"}, {"csrf", tok}},
	} {
		if w := b.upload(fields); w.Code != http.StatusForbidden {
			t.Errorf("%v: %d", fields, w.Code)
		}
	}
	anon := e.browser(t)
	anon.h = e.h
	if w := anon.upload([][2]string{{"csrf", tok}, {"bundle", "X"}}); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
		t.Errorf("upload without a login: %d", w.Code)
	}
	if w := b.upload([][2]string{{"csrf", tok}}); w.Code != 400 || !strings.Contains(w.Body.String(), "no file chosen") {
		t.Errorf("no file: %d", w.Code)
	}
	if got := fa.requests(); len(got) != 1 {
		t.Errorf("refused uploads reached the agent: %q", got)
	}
	// The agent's refusal is shown with its status.
	fa.answer = http.StatusForbidden
	if w := b.upload([][2]string{{"csrf", tok}, {"bundle", "X"}}); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "bad signature") {
		t.Errorf("agent refusal: %d\n%s", w.Code, w.Body)
	}
	// A form post is not an upload.
	if w := b.post("/firmware", "/firmware/update", url.Values{}); w.Code != 400 {
		t.Errorf("urlencoded upload: %d", w.Code)
	}
}

func TestFirmwareWrongToken(t *testing.T) {
	e, _ := systemEnv(t, "not the device token")
	b := e.browser(t)
	b.h = e.h
	b.mustLogin()
	w := b.upload([][2]string{{"csrf", b.csrf("/firmware")}, {"bundle", "X"}})
	if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), "api.token is not the device token") {
		t.Errorf("%d\n%s", w.Code, w.Body)
	}
}

func TestRebootAndReset(t *testing.T) {
	e, fa := systemEnv(t, "devtoken-0123456789")
	b := e.browser(t)
	b.h = e.h
	b.mustLogin()
	for _, p := range []string{"/firmware/reboot", "/firmware/factory-reset"} {
		if w := b.post("/firmware", p, url.Values{"password": {"bad"}}); w.Code != 400 || !strings.Contains(w.Body.String(), "password: wrong password") {
			t.Errorf("%s with a wrong password: %d", p, w.Code)
		}
		if w := b.do("POST", p, url.Values{"password": {testPassword}}); w.Code != http.StatusForbidden {
			t.Errorf("%s without the token: %d", p, w.Code)
		}
		if w := b.post("/firmware", p, url.Values{"password": {testPassword}}); w.Code != http.StatusSeeOther {
			t.Errorf("%s: %d\n%s", p, w.Code, w.Body)
		}
	}
	if got := fa.requests(); !slices.Equal(got, []string{"/system/reboot ", "/system/factory-reset "}) {
		t.Errorf("the agent got %q", got)
	}
}

func TestNoSystem(t *testing.T) {
	e := newEnv(t, testHash)
	b := e.browser(t)
	b.mustLogin()
	if w := b.get("/firmware"); !strings.Contains(w.Body.String(), "flash push") || strings.Contains(w.Body.String(), `id="upload"`) {
		t.Error("the firmware page without an agent offers an upload")
	}
	if w := b.upload([][2]string{{"csrf", b.csrf("/firmware")}, {"bundle", "X"}}); w.Code != 404 {
		t.Errorf("upload without an agent: %d", w.Code)
	}
	for _, p := range []string{"/firmware/reboot", "/firmware/factory-reset"} {
		if w := b.post("/firmware", p, url.Values{"password": {testPassword}}); w.Code == http.StatusSeeOther || w.Code == 200 {
			t.Errorf("%s without an agent: %d", p, w.Code)
		}
	}
}
