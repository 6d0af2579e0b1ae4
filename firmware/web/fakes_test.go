package web

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/boardspec"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phonebook"
)

const testPassword = "correct horse"

var testHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// fakePhone is api.Actions that records what it is asked.
type fakePhone struct {
	mu    sync.Mutex
	log   []string
	lines []api.Line
	book  []phonebook.Entry
	hist  []api.HistoryEntry
	fail  error // returned by every action when set
}

func (f *fakePhone) did(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf(format, args...))
	return f.fail
}

func (f *fakePhone) actions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakePhone) Call(_ context.Context, to string) error    { return f.did("call %s", to) }
func (f *fakePhone) Answer(context.Context) error               { return f.did("answer") }
func (f *fakePhone) Hangup(context.Context) error               { return f.did("hangup") }
func (f *fakePhone) SendDTMF(_ context.Context, d string) error { return f.did("dtmf %s", d) }
func (f *fakePhone) Hold(context.Context) error                 { return f.did("hold") }
func (f *fakePhone) Resume(context.Context) error               { return f.did("resume") }
func (f *fakePhone) Key(_ context.Context, k string) error      { return f.did("key %s", k) }
func (f *fakePhone) CallOn(_ context.Context, l int, to string) error {
	return f.did("callon %d %s", l, to)
}
func (f *fakePhone) AnswerCall(_ context.Context, id string) error { return f.did("answer %s", id) }
func (f *fakePhone) RejectCall(_ context.Context, id string, c int) error {
	return f.did("reject %s %d", id, c)
}
func (f *fakePhone) HangupCall(_ context.Context, id string) error { return f.did("hangup %s", id) }
func (f *fakePhone) HoldCall(_ context.Context, id string) error   { return f.did("hold %s", id) }
func (f *fakePhone) ResumeCall(_ context.Context, id string) error { return f.did("resume %s", id) }
func (f *fakePhone) Swap(context.Context) error                    { return f.did("swap") }
func (f *fakePhone) Transfer(_ context.Context, to string) error   { return f.did("transfer %s", to) }
func (f *fakePhone) TransferAttended(_ context.Context, a, b string) error {
	return f.did("attended %s %s", a, b)
}
func (f *fakePhone) Conference(context.Context) error           { return f.did("conference") }
func (f *fakePhone) SetRoute(_ context.Context, r string) error { return f.did("route %s", r) }
func (f *fakePhone) Lines(context.Context) ([]api.Line, error)  { return f.lines, nil }
func (f *fakePhone) SetLine(_ context.Context, n int, s api.LineSettings) error {
	return f.did("setline %d %+v", n, s)
}
func (f *fakePhone) History(_ context.Context, kind string, limit int) ([]api.HistoryEntry, error) {
	var out []api.HistoryEntry
	for _, e := range f.hist {
		if kind == "" || e.Kind == kind {
			out = append(out, e)
		}
	}
	return out, nil
}
func (f *fakePhone) HistoryEntry(_ context.Context, id uint64) (api.HistoryEntry, error) {
	for _, e := range f.hist {
		if e.ID == id {
			return e, nil
		}
	}
	return api.HistoryEntry{}, fmt.Errorf("%w: history entry %d", api.ErrNotFound, id)
}
func (f *fakePhone) ClearHistory(context.Context) error                   { return f.did("clearhistory") }
func (f *fakePhone) Phonebook(context.Context) ([]phonebook.Entry, error) { return f.book, nil }
func (f *fakePhone) PhonebookEntry(_ context.Context, id string) (phonebook.Entry, error) {
	for _, e := range f.book {
		if e.ID == id {
			return e, nil
		}
	}
	return phonebook.Entry{}, fmt.Errorf("%w: entry %q", api.ErrNotFound, id)
}
func (f *fakePhone) AddPhonebook(_ context.Context, e phonebook.Entry) (phonebook.Entry, error) {
	e.ID = "new"
	return e, f.did("addbook %s %v %s", e.Name, e.Numbers, e.SpeedDial)
}
func (f *fakePhone) UpdatePhonebook(_ context.Context, id string, e phonebook.Entry) (phonebook.Entry, error) {
	if _, err := f.PhonebookEntry(context.Background(), id); err != nil {
		return e, err
	}
	return e, f.did("updatebook %s %s %v", id, e.Name, e.Numbers)
}
func (f *fakePhone) DeletePhonebook(_ context.Context, id string) error {
	if _, err := f.PhonebookEntry(context.Background(), id); err != nil {
		return err
	}
	return f.did("deletebook %s", id)
}
func (f *fakePhone) SpeedDial(context.Context, string) (string, error) { return "", api.ErrNotFound }

// memStore is an api.ConfigStore in memory that validates as
// config.Save does.
type memStore struct {
	mu    sync.Mutex
	cur   *config.Config
	saves int
}

func (m *memStore) Config() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

func (m *memStore) SaveConfig(c *config.Config) (bool, error) {
	// As phoned's store: the file's checks and the board's.
	if err := boardspec.Validate(c); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = c
	m.saves++
	return true, nil
}

const testConfig = `accounts:
  - user: "1001"
    password: wrong
    domain: 127.0.0.1
    registrar: 127.0.0.1:5070
nat:
  upnp: false
  strategies: []
web:
  password_hash: "%s"
`

// testStatus is a status document as the daemon's (its JSON).
var testStatus = map[string]any{
	"version": "v0.9.0", "board": "sim",
	"phone": map[string]any{"state": "talking", "remote": "echo", "lines": []any{map[string]any{"line": 0, "dnd": false, "forward": map[string]any{"busy": "1003"}}}},
	"registration": map[string]any{"state": "failed", "code": 403, "reason": "authentication failed", "contact": "<sip:1001@127.0.0.1:5060>",
		"why": "the registrar refused the credentials: check the account's user, auth_user and password"},
	"nat": map[string]any{"type": "port-restricted-cone", "external_sip": "203.0.113.7:5060", "strategy": "stun", "media_strategy": "stun",
		"alg_seen": true, "alg_detail": "Contact rewritten to 203.0.113.7:5060", "keepalive_s": 25.0},
	"calls": []any{map[string]any{"id": "c1", "direction": "outgoing", "state": "talking", "remote": "sip:echo@127.0.0.1", "codec": "PCMU",
		"duration_s": 4.2, "rtp": map[string]any{"sent": 212, "received": 209, "lost": 3, "jitter_ms": 0.4, "remote": "127.0.0.1:16388"}}},
	"sip_transport": map[string]any{"state": "up"},
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a web page over fakes.
type env struct {
	h     *Handler
	phone *fakePhone
	store *memStore
	clock *clock
}

func newEnv(t *testing.T, hash string) *env {
	t.Helper()
	c, err := config.Parse("phone.yaml", []byte(fmt.Sprintf(testConfig, hash)))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		phone: &fakePhone{
			lines: []api.Line{{Line: 0, LineSettings: api.LineSettings{Forward: api.Forward{Busy: "1003"}}}},
			book:  []phonebook.Entry{{ID: "b1", Name: "Bob", Numbers: []phonebook.Number{{Number: "1002", Label: "desk"}}, SpeedDial: "2"}},
			hist: []api.HistoryEntry{{ID: 7, Kind: "missed", Line: 0, Remote: "1002", Name: "Bob", Start: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
				{ID: 8, Kind: "placed", Line: 0, Remote: "", Start: time.Date(2026, 12, 4, 9, 5, 0, 0, time.UTC)}},
		},
		store: &memStore{cur: c},
		clock: &clock{t: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)},
	}
	e.h, err = New(Config{
		Status: func() any { return testStatus }, Actions: e.phone, Store: e.store,
		Now: e.clock.now, Rand: rand.NewChaCha8([32]byte{1}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// browser keeps one client's cookie, like a browser.
type browser struct {
	t      *testing.T
	h      http.Handler
	remote string
	cookie string
	tls    bool
}

func (e *env) browser(t *testing.T) *browser {
	return &browser{t: t, h: e.h, remote: "127.0.0.1:40000"}
}

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, path, body)
	r.RemoteAddr = b.remote
	if b.tls {
		r = httptest.NewRequest(method, "https://phone"+path, body)
		r.RemoteAddr = b.remote
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie(r), Value: b.cookie})
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie(r) {
			b.cookie = c.Value
			if c.MaxAge < 0 {
				b.cookie = ""
			}
		}
	}
	return w
}

func (b *browser) get(path string) *httptest.ResponseRecorder { return b.do("GET", path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads page and returns its form token.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	w := b.get(page)
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token in\n%s", page, w.Code, w.Body)
	}
	return m[1]
}

// post sends a form with the token of page.
func (b *browser) post(page, path string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", b.csrf(page))
	return b.do("POST", path, form)
}

// login logs b in with pw and returns the answer.
func (b *browser) login(pw string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.post("/login", "/login", url.Values{"password": {pw}})
}

func (b *browser) mustLogin() {
	b.t.Helper()
	if w := b.login(testPassword); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/status" {
		b.t.Fatalf("login: %d %s\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
}

var errBusy = errors.New("phone: busy")
