// Package api is the phone's local HTTP API, the way desk phones expose
// "action URLs": a JSON status document and a handful of actions.
//
//	GET  /api/status              the status document (see Status)
//	POST /api/call    {"to": "1002"}, {"to": "1002", "line": 1}, {"speed_dial": "3"}
//	POST /api/answer  optional {"call_id": "..."}; so are hangup, hold, resume
//	POST /api/hangup
//	POST /api/hold
//	POST /api/resume
//	POST /api/reject  {"call_id": "...", "code": 486}
//	POST /api/swap
//	POST /api/transfer {"to": "1003"} (blind), {} (attended: held to active),
//	                   {"call_id": "...", "to_call_id": "..."}
//	POST /api/conference
//	POST /api/route   {"route": "handset"|"speaker"|"headset"}
//	POST /api/dtmf    {"digits": "123#"}
//	POST /api/key     {"key": "5"} or {"key": "hold"}; {"hook": "off"|"on"}
//	GET  /api/lines, PUT /api/lines/{n} {"dnd": true, "forward": {...}}
//	GET  /api/history?kind=missed&limit=20, DELETE /api/history
//	POST /api/history/{id}/dial
//	GET, POST /api/phonebook; GET, PUT, DELETE /api/phonebook/{id}
//	GET  /api/screen.png          the screen as a PNG (Config.Screen)
//	GET  /api/screen              a page showing the screen, with keys
//	GET  /api/config              the config, secrets redacted (config.go)
//	PUT  /api/config              a whole config, YAML or JSON; saved and applied
//	PATCH /api/config             a partial config merged into it (RFC 7396)
//	GET  /metrics                 Prometheus text format (Config.Metrics; diag.go)
//	GET, PUT, DELETE /api/trace; GET /api/trace.txt  the SIP message trace (diag.go)
//
// With Config.Web set, every other path is the web admin page (package
// firmware/web), which has its own login instead of the token.
//
// Bodies are one JSON object with only the endpoint's fields (anything
// else is 400). A call, line or entry that does not exist is 404, a state
// the phone cannot act in 409 (see errStatus and docs/api.md).
//
// It listens on 127.0.0.1 by default. Bound to any other address it
// requires a token, sent as "Authorization: Bearer <token>".
//
// A web page open in a browser on the same host (or on the same LAN) can
// send requests to the API too, so every request is checked before it is
// served: its Host must name the phone itself (a literal address of the
// phone, localhost, or the phone's host name; anything else is a DNS
// rebinding name and gets 421), an Origin header, when present, must be
// the API's own origin (403), and a POST must say "Content-Type:
// application/json" (415; a PUT too), which a page cannot send across origins
// without a CORS preflight the API never grants. curl and scripts send no
// Origin and keep working. Slow clients are bounded by header, body and
// idle timeouts, header and body size limits, and a cap on connections.
package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/firmware/phonebook"
)

// Actions are what the API can ask of the phone. A call id is the "id"
// of a call in the status document's "calls"; a line is its index in
// "lines" (0 is the default line). An action wraps ErrNotFound when the
// call, line or entry it is given does not exist, ErrInvalid when the
// request's content is refused, ErrForbidden when the API may not ask
// for it, and ErrFailed when it could not be carried out; any other error
// is a conflict with the phone's state (409).
type Actions interface {
	// Call dials to hands-free on the default line.
	Call(ctx context.Context, to string) error
	// Answer answers the ringing call hands-free.
	Answer(ctx context.Context) error
	// Hangup ends the active call, or rejects a ringing one.
	Hangup(ctx context.Context) error
	SendDTMF(ctx context.Context, digits string) error
	// Hold and Resume hold and resume the active call.
	Hold(ctx context.Context) error
	Resume(ctx context.Context) error
	// Key presses a key by name ("5", "#", "hold", "speaker", ...) or
	// moves the hook ("hook:off", "hook:on").
	Key(ctx context.Context, key string) error

	CallActions
	LineActions
	HistoryActions
	PhonebookActions
}

// CallActions act on one call of several, by id.
type CallActions interface {
	// CallOn dials to hands-free on a line.
	CallOn(ctx context.Context, line int, to string) error
	// AnswerCall answers a ringing or waiting call (the active one is
	// held first).
	AnswerCall(ctx context.Context, id string) error
	// RejectCall refuses a ringing or waiting call with a SIP status
	// (486, 603, ...); id "" is the one ringing.
	RejectCall(ctx context.Context, id string, code int) error
	HangupCall(ctx context.Context, id string) error
	HoldCall(ctx context.Context, id string) error
	// ResumeCall resumes a held call (holding the active one).
	ResumeCall(ctx context.Context, id string) error
	// Swap holds the active call and resumes the held one.
	Swap(ctx context.Context) error
	// Transfer transfers the active call blind to to.
	Transfer(ctx context.Context, to string) error
	// TransferAttended connects the far ends of two calls, the held one
	// to the active one when both ids are "", and leaves both.
	TransferAttended(ctx context.Context, id, toID string) error
	// Conference joins the active and the held call in a three-way call.
	Conference(ctx context.Context) error
	// SetRoute moves the active call's audio: "handset", "speaker" or
	// "headset".
	SetRoute(ctx context.Context, route string) error
}

// LineActions read and change the lines' call handling.
type LineActions interface {
	Lines(ctx context.Context) ([]Line, error)
	// SetLine replaces a line's settings.
	SetLine(ctx context.Context, line int, s LineSettings) error
}

// HistoryActions read and clear the call history.
type HistoryActions interface {
	// History lists the calls newest first: of one kind when kind is not
	// "", at most limit when limit is positive.
	History(ctx context.Context, kind string, limit int) ([]HistoryEntry, error)
	HistoryEntry(ctx context.Context, id uint64) (HistoryEntry, error)
	ClearHistory(ctx context.Context) error
}

// PhonebookActions read and edit the phonebook.
type PhonebookActions interface {
	Phonebook(ctx context.Context) ([]phonebook.Entry, error)
	PhonebookEntry(ctx context.Context, id string) (phonebook.Entry, error)
	// AddPhonebook stores a new entry and returns it with its id.
	AddPhonebook(ctx context.Context, e phonebook.Entry) (phonebook.Entry, error)
	UpdatePhonebook(ctx context.Context, id string, e phonebook.Entry) (phonebook.Entry, error)
	DeletePhonebook(ctx context.Context, id string) error
	// SpeedDial returns the number stored for a speed-dial digit.
	SpeedDial(ctx context.Context, key string) (string, error)
}

// Config configures the API server.
type Config struct {
	// Listen is the address, default 127.0.0.1:8080.
	Listen string
	// Token is required when Listen is not a loopback address.
	Token string
	// Status returns the status document; it must be cheap and safe to
	// call from any goroutine.
	Status func() any
	// Actions carries out commands. An action's error that wraps
	// ErrForbidden is answered 403.
	Actions Actions
	Logger  *slog.Logger
	// Screen, when set, returns the phone's current screen for GET
	// /api/screen.png and the page at GET /api/screen (see screen.go).
	Screen func() image.Image

	// ConfigStore, when set, serves GET and PUT /api/config (config.go).
	ConfigStore ConfigStore
	// Web, when set, serves every path outside /api/ (the web admin
	// page, package firmware/web). Requests to it pass the Host and
	// Origin checks but not the token: the page has its own login.
	Web http.Handler

	// Metrics, when set, writes GET /metrics; Trace, when set, serves
	// the SIP trace (diag.go).
	Metrics func(w io.Writer) error
	Trace   Trace

	// InterfaceAddrs lists the host's addresses, which a Host header may
	// name when Listen is an unspecified address (0.0.0.0, [::]). Nil
	// means the addresses of the host's interfaces (net.InterfaceAddrs).
	InterfaceAddrs func() ([]netip.Addr, error)

	// Limits for slow or greedy clients; zero means the default.
	//
	// ReadHeaderTimeout bounds reading a request's headers (default 5 s),
	// BodyTimeout reading its body after them (default 10 s), and
	// IdleTimeout how long a kept-alive connection may wait for its next
	// request (default 60 s).
	ReadHeaderTimeout, BodyTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's header block (default 8 KiB) and
	// MaxBodyBytes its body (default 16 KiB, answered 413 beyond).
	MaxHeaderBytes int
	MaxBodyBytes   int64
	// MaxConns caps the connections open at once (default 16); one more
	// is answered 503 and closed.
	MaxConns int
}

// Defaults for the Config's limits.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultBodyTimeout       = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 8 << 10
	DefaultMaxBodyBytes      = 16 << 10
	DefaultMaxConns          = 16
	// actionTimeout bounds one action and writeSlack the response write
	// after it.
	actionTimeout = 10 * time.Second
	writeSlack    = 5 * time.Second
	// refuseGrace is how long a refused request's leftover body is read.
	refuseGrace = time.Second
)

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = DefaultBodyTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.InterfaceAddrs == nil {
		c.InterfaceAddrs = interfaceAddrs
	}
}

// ErrTokenRequired is returned when a non-loopback listener has no token.
var ErrTokenRequired = errors.New("api: a token is required when listening beyond loopback")

// Errors an action wraps to choose the answer's status (see errStatus).
var (
	// ErrNotFound: the call, line, history entry, phonebook entry or
	// speed dial the request names does not exist (404).
	ErrNotFound = errors.New("api: not found")
	// ErrInvalid: the request's content is not acceptable, for example a
	// phonebook entry without a name (400).
	ErrInvalid = errors.New("api: invalid request")
	// ErrFailed: the action could not be carried out for a reason other
	// than the phone's state, for example the data partition refused a
	// write (500).
	ErrFailed = errors.New("api: action failed")
)

// ErrForbidden marks an action the API may not ask for (for example a
// service code that wipes the phone); actions wrap it, the API answers
// 403.
var ErrForbidden = errors.New("api: not allowed through the API")

// Server is the running API.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   net.Listener
	srv  *http.Server
	done chan error

	// listenIP is the address the API is bound to; unspecified means
	// every interface.
	listenIP netip.Addr
	// tokenSum is the SHA-256 of the expected Authorization header.
	tokenSum [sha256.Size]byte

	closeOnce sync.Once
	closeErr  error
}

// Loopback reports whether a listen address is loopback-only.
func Loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Handler returns the API's HTTP handler (useful for tests). It checks
// requests as the server does, for a server listening on cfg.Listen.
func Handler(cfg Config) http.Handler {
	return newServer(cfg).handler()
}

func newServer(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: logger(cfg.Logger), done: make(chan error, 1)}
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil {
		if host == "" {
			s.listenIP = netip.IPv6Unspecified()
		} else if ip, err := netip.ParseAddr(host); err == nil {
			s.listenIP = ip.Unmap()
		}
	}
	s.tokenSum = sha256.Sum256([]byte("Bearer " + cfg.Token))
	return s
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "api")
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if cfg.Status == nil || cfg.Actions == nil {
		return nil, errors.New("api: Status and Actions are required")
	}
	if !Loopback(cfg.Listen) && cfg.Token == "" {
		return nil, fmt.Errorf("%w (listen %s)", ErrTokenRequired, cfg.Listen)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := newServer(cfg)
	s.ln = &limitListener{Listener: ln, max: cfg.MaxConns}
	s.srv = s.httpServer()
	go func() { s.done <- s.srv.Serve(s.ln) }()
	s.log.Info("api listening", "laddr", ln.Addr().String())
	return s, nil
}

// httpServer bounds every phase of a connection: the headers, the body
// (ReadTimeout is the whole request: headers plus body), the handler and
// its answer, and the wait for a kept-alive connection's next request.
func (s *Server) httpServer() *http.Server {
	c := s.cfg
	return &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadHeaderTimeout + c.BodyTimeout,
		WriteTimeout:      c.ReadHeaderTimeout + c.BodyTimeout + actionTimeout + writeSlack,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server and waits for it: requests in progress get two
// seconds, then every connection is closed. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if s.closeErr = s.srv.Shutdown(ctx); s.closeErr != nil {
			s.closeErr = s.srv.Close()
		}
		<-s.done
	})
	return s.closeErr
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.cfg.Status())
	})
	s.callRoutes(mux)
	s.lineRoutes(mux)
	s.historyRoutes(mux)
	s.phonebookRoutes(mux)
	s.screenRoutes(mux)
	s.configRoutes(mux)
	s.diagRoutes(mux)
	if s.cfg.Web != nil {
		mux.Handle("/", s.cfg.Web)
	}
	return s.guard(mux)
}

// handlerFunc serves one endpoint: it gets the request's body (read
// within the limits, for POST and PUT) and returns the answer's status
// and document, or an error that errStatus turns into one.
type handlerFunc func(ctx context.Context, r *http.Request, body []byte) (int, any, error)

// okBody is the answer of an action that has nothing more to say.
var okBody = map[string]bool{"ok": true}

// handle registers f for pattern ("POST /api/call"). A POST or PUT must
// be JSON (415 otherwise: only a "simple" cross-origin request, text/plain
// or a form encoding, reaches us without a CORS preflight), and its body
// is read with BodyTimeout and MaxBodyBytes (413 beyond). The action gets
// actionTimeout.
func (s *Server) handle(mux *http.ServeMux, pattern string, f handlerFunc) {
	s.handleBody(mux, pattern, jsonContent, "application/json", s.cfg.MaxBodyBytes, f)
}

// handleBody is handle with the content types a POST or PUT may have
// (accept; named for the 415 answer) and its body limit.
func (s *Server) handleBody(mux *http.ServeMux, pattern string, accept func(string) bool, types string, limit int64, f handlerFunc) {
	write := strings.HasPrefix(pattern, "POST ") || strings.HasPrefix(pattern, "PUT ") || strings.HasPrefix(pattern, "PATCH ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if write {
			if !accept(r.Header.Get("Content-Type")) {
				writeErr(w, http.StatusUnsupportedMediaType, errors.New("Content-Type must be "+types))
				return
			}
			// The body has BodyTimeout from here (the server's
			// ReadTimeout is only the backstop for the whole request).
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
			var err error
			body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					writeErr(w, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", limit))
					return
				}
				// Most often the body timeout: the connection is gone.
				hangUp(w)
				writeErr(w, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err))
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
		defer cancel()
		code, doc, err := f(ctx, r, body)
		if err != nil {
			writeErr(w, errStatus(err), err)
			return
		}
		writeJSON(w, code, doc)
	})
}

// errStatus maps an action's error to the answer's status: the request
// itself is wrong (400), not allowed (403), names nothing (404), could
// not be carried out (500); anything else is a conflict with the phone's
// state (409), such as answering when nothing rings.
func errStatus(err error) int {
	var be badRequest
	switch {
	case errors.As(err, &be), errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrFailed):
		return http.StatusInternalServerError
	}
	return http.StatusConflict
}

// decode reads a JSON object body into v. An empty body (or null) leaves
// v as it is; anything but one JSON object, or a field v does not have,
// is a bad request.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest{fmt.Errorf("body: %w", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest{errors.New("body: more than one JSON value")}
	}
	return nil
}

// action is an endpoint that decodes its body into a T and answers
// {"ok": true} when f succeeds.
func action[T any](s *Server, mux *http.ServeMux, pattern string, f func(ctx context.Context, r *http.Request, req T) error) {
	s.handle(mux, pattern, func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		var req T
		if err := decode(body, &req); err != nil {
			return 0, nil, err
		}
		if err := f(ctx, r, req); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, okBody, nil
	})
}

type badRequest struct{ error }

// guard checks what every request must pass before the API reads its
// body: the Host names the phone (DNS rebinding), the Origin, when sent,
// is ours (a web page's cross-origin request), and the token, when one is
// set. A refused request's connection is closed rather than kept alive,
// so the server does not wait to drain a body it will never use.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(code int, err error) {
			hangUp(w)
			writeErr(w, code, err)
		}
		if !s.ownHost(r.Host) {
			s.log.Warn("api request refused: foreign Host", "raddr", r.RemoteAddr, "host", r.Host)
			refuse(http.StatusMisdirectedRequest, errors.New("the Host header does not name this phone"))
			return
		}
		if o, ok := r.Header["Origin"]; ok && (len(o) != 1 || !sameOrigin(o[0], r)) {
			s.log.Warn("api request refused: foreign Origin", "raddr", r.RemoteAddr, "origin", strings.Join(o, ","))
			refuse(http.StatusForbidden, errors.New("cross-origin requests are not allowed"))
			return
		}
		if s.cfg.Token != "" && !s.webPath(r) && !s.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phone"`)
			refuse(http.StatusUnauthorized, errors.New("missing or wrong token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// webPath reports whether r goes to the web page (Config.Web), which
// checks its own login instead of the token.
func (s *Server) webPath(r *http.Request) bool {
	return s.cfg.Web != nil && r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/metrics"
}

// hangUp makes the server close the connection after the answer. The
// server drains what is left of a (small) body first, so the client reads
// the answer rather than a reset, but for refuseGrace at most: a refused
// client gets little more of the server's time than its headers took.
func hangUp(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(refuseGrace))
}

// tokenOK compares the Authorization header with the token in constant
// time, lengths included (both sides are hashed first).
func (s *Server) tokenOK(r *http.Request) bool {
	got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
	return subtle.ConstantTimeCompare(got[:], s.tokenSum[:]) == 1
}

// ownHost reports whether a Host header (with or without a port) names
// this phone: a loopback name or address, the address the API listens
// on, any interface address when it listens on all of them, or the
// machine's host name (and host name.local). A name a web page's DNS
// answers (rebinding) is none of these.
func (s *Server) ownHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		name, err := os.Hostname()
		name = strings.ToLower(name)
		return err == nil && name != "" && (host == name || host == name+".local")
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case ip.IsLoopback():
		return true
	case !s.listenIP.IsValid():
		return false
	case !s.listenIP.IsUnspecified():
		return ip == s.listenIP
	}
	addrs, err := s.cfg.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Unmap().WithZone("") == ip {
			return true
		}
	}
	return false
}

// sameOrigin reports whether an Origin header is the API's own origin:
// http, the host the (already checked) Host header names, the same port.
// "null" and anything unparsable are foreign.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(u.Scheme, scheme) && hostPort(u.Host, scheme) == hostPort(r.Host, scheme)
}

// hostPort normalises host[:port] for comparison: lower case, the
// scheme's default port made explicit.
func hostPort(hp, scheme string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		host, port = strings.Trim(hp, "[]"), ""
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// jsonContent reports whether a Content-Type is application/json
// (parameters such as charset allowed).
func jsonContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, done, err := encodeJSON(v)
	if err == nil {
		w.Write(b)
	}
	done()
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
