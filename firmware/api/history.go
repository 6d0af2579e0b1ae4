package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// HistoryEntry is one call in GET /api/history.
type HistoryEntry struct {
	// ID names the entry for /api/history/{id}/dial; it is not reused.
	ID uint64 `json:"id"`
	// Kind is "placed", "received", "missed", "rejected" or "forwarded".
	Kind   string    `json:"kind"`
	Line   int       `json:"line"`
	Remote string    `json:"remote"`
	Name   string    `json:"name,omitempty"`
	Start  time.Time `json:"start"`
	// Duration is the talk time in seconds, 0 when not answered.
	Duration    float64 `json:"duration"`
	Code        int     `json:"code,omitempty"`
	Reason      string  `json:"reason,omitempty"`
	ForwardedTo string  `json:"forwarded_to,omitempty"`
}

// HistoryKinds are the kinds ?kind= may name.
var HistoryKinds = []string{"placed", "received", "missed", "rejected", "forwarded"}

// MaxHistoryLimit bounds ?limit=.
const MaxHistoryLimit = 10000

func (s *Server) historyRoutes(mux *http.ServeMux) {
	a := s.cfg.Actions
	s.handle(mux, "GET /api/history", func(ctx context.Context, r *http.Request, _ []byte) (int, any, error) {
		var kind string
		limit := 0
		for k, vs := range r.URL.Query() {
			if len(vs) != 1 {
				return 0, nil, badRequest{fmt.Errorf("query parameter %q given %d times", k, len(vs))}
			}
			switch v := vs[0]; k {
			case "kind":
				if !slices.Contains(HistoryKinds, v) {
					return 0, nil, badRequest{fmt.Errorf("kind %q is not one of %v", v, HistoryKinds)}
				}
				kind = v
			case "limit":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > MaxHistoryLimit {
					return 0, nil, badRequest{fmt.Errorf("limit %q is not a number 1..%d", v, MaxHistoryLimit)}
				}
				limit = n
			default:
				return 0, nil, badRequest{fmt.Errorf("unknown query parameter %q (kind, limit)", k)}
			}
		}
		es, err := a.History(ctx, kind, limit)
		if err != nil {
			return 0, nil, err
		}
		if es == nil {
			es = []HistoryEntry{}
		}
		return http.StatusOK, map[string][]HistoryEntry{"history": es}, nil
	})
	s.handle(mux, "DELETE /api/history", func(ctx context.Context, _ *http.Request, _ []byte) (int, any, error) {
		if err := a.ClearHistory(ctx); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, okBody, nil
	})
	s.handle(mux, "POST /api/history/{id}/dial", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		id, err := pathInt(r, "id", math.MaxInt64)
		if err != nil {
			return 0, nil, err
		}
		var q struct {
			Line *int `json:"line"`
		}
		if err := decode(body, &q); err != nil {
			return 0, nil, err
		}
		if err := checkLine(q.Line); err != nil {
			return 0, nil, err
		}
		e, err := a.HistoryEntry(ctx, id)
		if err != nil {
			return 0, nil, err
		}
		if e.Remote == "" {
			return 0, nil, fmt.Errorf("history entry %d has no number to dial", id)
		}
		line := e.Line
		if q.Line != nil {
			line = *q.Line
		}
		if err := a.CallOn(ctx, line, e.Remote); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, okBody, nil
	})
}
