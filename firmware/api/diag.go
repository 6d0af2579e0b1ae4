package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/deskphone/phone/firmware/promtext"
)

// TraceState is the SIP trace's switch and counters (GET /api/trace).
type TraceState struct {
	Enabled bool `json:"enabled"`
	// Messages are held now, at most Capacity; Recorded counts the
	// messages recorded since the trace was last cleared.
	Messages int    `json:"messages"`
	Capacity int    `json:"capacity"`
	Recorded uint64 `json:"recorded"`
}

// Trace is the SIP message trace (voip/sip.Trace through the daemon).
type Trace interface {
	TraceState() TraceState
	// SetTrace switches recording on or off; ClearTrace drops what was
	// recorded.
	SetTrace(on bool)
	ClearTrace()
	// WriteTrace writes the recorded messages as text, oldest first.
	WriteTrace(w io.Writer) error
}

// diagRoutes serves the diagnostics:
//
//	GET    /metrics         Prometheus text format 0.0.4 (Config.Metrics)
//	GET    /api/trace       the SIP trace's state (Config.Trace)
//	PUT    /api/trace       {"enabled": true|false}: switch it
//	DELETE /api/trace       drop what it recorded
//	GET    /api/trace.txt   the recorded messages, as a text download
//
// /metrics is outside /api/ as Prometheus expects, yet guarded as the
// API is (the token, when set; see webPath).
func (s *Server) diagRoutes(mux *http.ServeMux) {
	if m := s.cfg.Metrics; m != nil {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			var b bytes.Buffer
			if err := m(&b); err != nil {
				writeErr(w, http.StatusInternalServerError, err)
				return
			}
			w.Header().Set("Content-Type", promtext.ContentType)
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(b.Bytes())
		})
	}
	t := s.cfg.Trace
	if t == nil {
		return
	}
	s.handle(mux, "GET /api/trace", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		return http.StatusOK, t.TraceState(), nil
	})
	s.handle(mux, "PUT /api/trace", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		var req struct {
			Enabled *bool `json:"enabled"`
		}
		if err := decode(body, &req); err != nil {
			return 0, nil, err
		}
		if req.Enabled == nil {
			return 0, nil, badRequest{errMissingEnabled}
		}
		t.SetTrace(*req.Enabled)
		s.log.Info("SIP trace switched", "enabled", *req.Enabled, "raddr", r.RemoteAddr)
		return http.StatusOK, t.TraceState(), nil
	})
	s.handle(mux, "DELETE /api/trace", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		t.ClearTrace()
		return http.StatusOK, t.TraceState(), nil
	})
	mux.HandleFunc("GET /api/trace.txt", func(w http.ResponseWriter, r *http.Request) {
		ServeTraceText(w, t, time.Now())
	})
}

// ServeTraceText answers the trace as a text file download named for
// the time (the web page serves it too).
func ServeTraceText(w http.ResponseWriter, t Trace, now time.Time) {
	var b bytes.Buffer
	if err := t.WriteTrace(&b); err != nil {
		writeErr(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="sip-trace-`+now.UTC().Format("20060102T150405Z")+`.txt"`)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write(b.Bytes())
}

var errMissingEnabled = errors.New(`body: want {"enabled": true} or {"enabled": false}`)
