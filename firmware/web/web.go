package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phonebook"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the web page.
type Config struct {
	// Status returns the status document (as GET /api/status). Required.
	Status func() any
	// Actions carry out what the page asks (as the JSON API's). Required.
	Actions api.Actions
	// Store reads and saves the config, which holds the admin password's
	// hash (web.password_hash). Required.
	Store api.ConfigStore
	// System, when set, takes firmware uploads, reboots and factory
	// resets (the update agent in initd); nil leaves them off.
	System System
	Logger *slog.Logger
	// Trace, when set, is the SIP message trace the Diagnostics page
	// switches and downloads (diag.go).
	Trace api.Trace

	// Now is the clock (nil: time.Now) and Rand the source of session ids,
	// CSRF tokens and passwords (nil: crypto/rand); tests set both.
	Now  func() time.Time
	Rand io.Reader
	// SessionIdle and SessionMax end sessions (zero: DefaultSessionIdle,
	// DefaultSessionMax).
	SessionIdle, SessionMax time.Duration
}

// Handler is the web page; mount it with api.Config.Web.
type Handler struct {
	cfg   Config
	log   *slog.Logger
	sess  *sessions
	lim   *limiter
	mux   *http.ServeMux
	pages pageSet // parsed on first use (lazy.go)
	// checks bounds the password checks running at once: bcrypt is meant
	// to be slow, and many sources at once must not take every core.
	checks chan struct{}
}

// maxChecks is how many password checks may run at once.
const maxChecks = 2

// maxForm bounds a form's body.
const maxForm = 64 << 10

// actionTimeout bounds one action, as the API does.
const actionTimeout = 10 * time.Second

// New returns the web page's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Status == nil || cfg.Actions == nil || cfg.Store == nil {
		return nil, errors.New("web: Status, Actions and Store are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg: cfg, log: log.With("component", "web"),
		sess: newSessions(cfg.SessionIdle, cfg.SessionMax, cfg.Rand), lim: newLimiter(),
		mux:    http.NewServeMux(),
		checks: make(chan struct{}, maxChecks),
	}
	h.routes()
	return h, nil
}

var pageNames = []string{"login", "nopassword", "status", "calls", "accounts", "network", "audio", "phonebook", "history", "firmware", "admin", "error", "diagnostics", "keys"}

var funcs = template.FuncMap{
	"secs": func(d time.Duration) int64 { return int64(d / time.Second) },
	"dur": func(d time.Duration) string {
		if d%time.Second == 0 {
			return strconv.FormatInt(int64(d/time.Second), 10) + "s"
		}
		return d.String()
	},
	"join":    func(s []string) string { return strings.Join(s, ", ") },
	"numbers": formatNumbers,
	"f1":      func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"add":     func(a, b int) int { return a + b },
	"nav":     func() []navItem { return navItems },
	"list":    func(s ...string) []string { return s },
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"when": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") },
	"regClass": func(state string) string {
		switch strings.ToLower(state) {
		case "registered":
			return "ok"
		case "failed":
			return "bad"
		}
		return "wait"
	},
}

type navItem struct{ Page, Label string }

var navItems = []navItem{{"status", "Status"}, {"calls", "Calls"}, {"accounts", "Accounts"}, {"network", "NAT & ports"},
	{"audio", "Audio"}, {"keys", "Keys"}, {"phonebook", "Phonebook"}, {"history", "History"}, {"firmware", "Firmware"}, {"admin", "Admin"},
	{"diagnostics", "Diagnostics"}}

// ServeHTTP serves the page. Requests reach it after the API's Host and
// Origin checks.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(r.URL.Path, "/static/") {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		hd.Set("Cache-Control", "max-age=300")
		http.FileServerFS(staticFS).ServeHTTP(w, r)
		return
	}
	hd.Set("Cache-Control", "no-store")
	if h.hash() == "" && !fromLoopback(r) {
		h.render(w, r, nil, http.StatusForbidden, "nopassword", &pageData{Title: "No admin password"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// hash is the admin password's hash now ("" for none).
func (h *Handler) hash() string { return h.cfg.Store.Config().Web.PasswordHash }

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// pageData is what every template gets.
type pageData struct {
	Page, Title string
	CSRF        string
	Flash       string
	Error       string
	Problems    []string
	NoPassword  bool
	Refresh     bool

	Status   *statusView
	Cfg      *config.Config
	Lines    []api.Line
	LinesErr string
	Book     []phonebook.Entry
	BookErr  string
	Edit     *phonebook.Entry
	History  []api.HistoryEntry
	HistErr  string
	Kind     string
	Kinds    []string
	Tones    []string
	Form     url.Values
	Next     string
	Retry    int
	// HasSystem: the firmware page can upload, reboot and reset.
	HasSystem bool
	// Trace is the SIP trace's state (the Diagnostics page).
	Trace *api.TraceState
	// FormAccount is 1 + the index of the account whose form Form holds
	// (0: none), so a refused form shows what was typed.
	FormAccount int
	// Keys are the busy lamp keys (the Keys page).
	Keys []keyRow
}

// Val is an account form field's value: what was typed into account i's
// form when it was refused, else def.
func (d *pageData) Val(i int, name, def string) string {
	if d.FormAccount == i+1 && d.Form != nil {
		return d.Form.Get(name)
	}
	return def
}

// Checked is Val for a checkbox.
func (d *pageData) Checked(i int, name string, def bool) bool {
	if d.FormAccount == i+1 && d.Form != nil {
		return checkbox(d.Form, name)
	}
	return def
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, code int, page string, d *pageData) {
	d.Page = page
	d.NoPassword = h.hash() == ""
	d.HasSystem = h.cfg.System != nil
	if s != nil {
		d.CSRF = s.csrf
		if f := h.sess.takeFlash(s); f != "" && d.Flash == "" {
			d.Flash = f
		}
	}
	var buf bytes.Buffer
	t, err := h.pages.get(page)
	if err == nil {
		err = t.ExecuteTemplate(&buf, "base", d)
	}
	if err != nil {
		h.log.Error("rendering a page", "page", page, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// session returns the request's logged-in session. Without one it
// answers a redirect to the login page and returns nil. Without a
// password (loopback only, checked in ServeHTTP) every browser gets a
// session at once.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) *session {
	now := h.cfg.Now()
	hash := h.hash()
	s, expired := h.sess.get(r, now)
	if s != nil && s.authed && s.hash == hash {
		return s
	}
	if hash == "" {
		ns, err := h.sess.create(now, true, "")
		if err != nil {
			h.fail(w, r, err)
			return nil
		}
		setCookie(w, r, ns)
		return ns
	}
	next := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		next += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	if expired {
		if ns, err := h.sess.create(now, false, ""); err == nil {
			h.sess.setFlash(ns, "Your session ended; log in again.")
			setCookie(w, r, ns)
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web", "path", r.URL.Path, "err", err)
	h.render(w, r, nil, http.StatusInternalServerError, "error", &pageData{Title: "Error", Error: err.Error()})
}

// page registers a GET page that needs a login.
func (h *Handler) page(pattern string, f func(w http.ResponseWriter, r *http.Request, s *session)) {
	h.mux.HandleFunc("GET "+pattern, func(w http.ResponseWriter, r *http.Request) {
		if s := h.session(w, r); s != nil {
			f(w, r, s)
		}
	})
}

// post registers a form action that needs a login and the session's
// CSRF token. f returns the page to show again with an error (400 for
// a formError, the API's status for an action's error), or "" after it
// has answered (a redirect).
func (h *Handler) post(pattern string, f func(w http.ResponseWriter, r *http.Request, s *session) (page string, d *pageData, err error)) {
	h.mux.HandleFunc("POST "+pattern, func(w http.ResponseWriter, r *http.Request) {
		s := h.session(w, r)
		if s == nil {
			return
		}
		if !h.parseForm(w, r, s) {
			return
		}
		page, d, err := f(w, r, s)
		if err == nil {
			return
		}
		code, d := h.errorPage(err, d)
		h.fill(r.Context(), page, d)
		h.render(w, r, s, code, page, d)
	})
}

// parseForm reads a POST's form (bounded) and checks its CSRF token;
// otherwise it answers 403 or 413 and returns false.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request, s *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		h.render(w, r, s, code, "error", &pageData{Title: "Bad request", Error: err.Error()})
		return false
	}
	if !csrfOK(s, r.PostForm.Get("csrf")) {
		h.log.Warn("web form refused: missing or wrong CSRF token", "raddr", r.RemoteAddr, "path", r.URL.Path)
		h.render(w, r, s, http.StatusForbidden, "error", &pageData{Title: "Refused",
			Error: "This form is not from this page (missing or wrong CSRF token). Reload the page and try again."})
		return false
	}
	return true
}

// errorPage turns a handler's error into a status and the page's data.
func (h *Handler) errorPage(err error, d *pageData) (int, *pageData) {
	if d == nil {
		d = &pageData{}
	}
	var fe formError
	switch {
	case errors.As(err, &fe):
		d.Error = "Please correct the form."
		d.Problems = fe
		return http.StatusBadRequest, d
	case len(config.Problems(err)) > 0:
		d.Error = "The config has problems; nothing was saved."
		for _, p := range config.Problems(err) {
			d.Problems = append(d.Problems, p.Error())
		}
		return http.StatusBadRequest, d
	}
	d.Error = err.Error()
	return actionStatus(err), d
}

// actionStatus is the API's status for an action's error (see
// api.Actions): 400, 403, 404, 500, or 409 for the phone's state.
func actionStatus(err error) int {
	switch {
	case errors.Is(err, api.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, api.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, api.ErrFailed):
		return http.StatusInternalServerError
	}
	return http.StatusConflict
}

// done answers a successful action: the message on the next page, and a
// redirect to it (post/redirect/get).
func (h *Handler) done(w http.ResponseWriter, r *http.Request, s *session, to, msg string) (string, *pageData, error) {
	h.sess.setFlash(s, msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return "", nil, nil
}

func actionCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), actionTimeout)
}

// savedNote is what a saved config change says.
const savedNote = "Saved. The change takes effect when phoned restarts (restart the phone, or the phoned service)."

// save stores a changed config through the store.
func (h *Handler) save(c *config.Config) (string, error) {
	restart, err := h.cfg.Store.SaveConfig(c)
	if err != nil {
		return "", err
	}
	if restart {
		return savedNote, nil
	}
	return "Saved and applied.", nil
}

// staticFiles lists the embedded static files (for tests).
func staticFiles() ([]string, error) {
	var out []string
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	return out, err
}
