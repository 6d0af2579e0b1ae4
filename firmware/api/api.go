// Package api is the phone's local HTTP API, the way desk phones expose
// "action URLs": a JSON status document and a handful of actions.
//
//	GET  /api/status              the status document (see Status)
//	POST /api/call    {"to": "1002"}
//	POST /api/answer
//	POST /api/hangup
//	POST /api/dtmf    {"digits": "123#"}
//	POST /api/hold
//	POST /api/resume
//	POST /api/key     {"key": "5"} or {"key": "hold"}; {"hook": "off"|"on"}
//
// It listens on 127.0.0.1 by default. Bound to any other address it
// requires a token, sent as "Authorization: Bearer <token>".
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Actions are what the API can ask of the phone.
type Actions interface {
	Call(ctx context.Context, to string) error
	Answer(ctx context.Context) error
	Hangup(ctx context.Context) error
	SendDTMF(ctx context.Context, digits string) error
	Hold(ctx context.Context) error
	Resume(ctx context.Context) error
	// Key presses a key by name ("5", "#", "hold", "speaker", ...) or
	// moves the hook ("hook:off", "hook:on").
	Key(ctx context.Context, key string) error
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
	// Actions carries out commands.
	Actions Actions
	Logger  *slog.Logger
}

// ErrTokenRequired is returned when a non-loopback listener has no token.
var ErrTokenRequired = errors.New("api: a token is required when listening beyond loopback")

// Server is the running API.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   net.Listener
	srv  *http.Server
	done chan error
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

// Handler returns the API's HTTP handler (useful for tests).
func Handler(cfg Config) http.Handler {
	s := &Server{cfg: cfg, log: logger(cfg.Logger)}
	return s.handler()
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("component", "api")
}

// Start listens and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
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
	s := &Server{cfg: cfg, log: logger(cfg.Logger), ln: ln, done: make(chan error, 1)}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { s.done <- s.srv.Serve(ln) }()
	s.log.Info("api listening", "laddr", ln.Addr().String())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server and waits for it.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.cfg.Status())
	})
	act := func(path string, f func(ctx context.Context, body map[string]string) error) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body := map[string]string{}
			b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
			if err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
			if len(b) > 0 {
				if err := json.Unmarshal(b, &body); err != nil {
					writeErr(w, http.StatusBadRequest, fmt.Errorf("body must be a JSON object of strings: %w", err))
					return
				}
			}
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			if err := f(ctx, body); err != nil {
				code := http.StatusConflict
				var be badRequest
				if errors.As(err, &be) {
					code = http.StatusBadRequest
				}
				writeErr(w, code, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		})
	}
	a := s.cfg.Actions
	act("/api/call", func(ctx context.Context, b map[string]string) error {
		if b["to"] == "" {
			return badRequest{errors.New(`"to" is required`)}
		}
		return a.Call(ctx, b["to"])
	})
	act("/api/answer", func(ctx context.Context, _ map[string]string) error { return a.Answer(ctx) })
	act("/api/hangup", func(ctx context.Context, _ map[string]string) error { return a.Hangup(ctx) })
	act("/api/hold", func(ctx context.Context, _ map[string]string) error { return a.Hold(ctx) })
	act("/api/resume", func(ctx context.Context, _ map[string]string) error { return a.Resume(ctx) })
	act("/api/dtmf", func(ctx context.Context, b map[string]string) error {
		d := b["digits"]
		if d == "" {
			return badRequest{errors.New(`"digits" is required`)}
		}
		for _, r := range d {
			if !(r >= '0' && r <= '9' || r == '*' || r == '#' || r >= 'A' && r <= 'D') {
				return badRequest{fmt.Errorf("%q is not a DTMF digit", r)}
			}
		}
		return a.SendDTMF(ctx, d)
	})
	act("/api/key", func(ctx context.Context, b map[string]string) error {
		switch {
		case b["hook"] == "off" || b["hook"] == "on":
			return a.Key(ctx, "hook:"+b["hook"])
		case b["key"] != "":
			return a.Key(ctx, b["key"])
		}
		return badRequest{errors.New(`"key" or "hook" ("off"/"on") is required`)}
	})
	return s.auth(mux)
}

type badRequest struct{ error }

func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="phone"`)
			writeErr(w, http.StatusUnauthorized, errors.New("missing or wrong token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
