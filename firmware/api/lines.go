package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Line is one line's call handling, as GET /api/lines lists it.
type Line struct {
	// Line is the line's index in the status document's "lines".
	Line int `json:"line"`
	LineSettings
}

// LineSettings are a line's do-not-disturb and forwarding.
type LineSettings struct {
	DND bool `json:"dnd"`
	// DNDCode is what DND answers a caller: 486 (Busy Here) or 480
	// (Temporarily Unavailable); 0 means 486.
	DNDCode int     `json:"dnd_code,omitempty"`
	Forward Forward `json:"forward"`
}

// Forward says where a line's calls go instead ("" for nowhere).
type Forward struct {
	Always   string `json:"always,omitempty"`
	Busy     string `json:"busy,omitempty"`
	NoAnswer string `json:"no_answer,omitempty"`
	// NoAnswerAfter is the ringing time in seconds before NoAnswer
	// applies; 0 means 20.
	NoAnswerAfter int `json:"no_answer_after,omitempty"`
}

// MaxNoAnswerAfter bounds Forward.NoAnswerAfter, in seconds.
const MaxNoAnswerAfter = 600

// lineRequest is PUT /api/lines/{n}: the fields sent replace the line's,
// the fields left out keep their value.
type lineRequest struct {
	DND     *bool           `json:"dnd"`
	DNDCode *int            `json:"dnd_code"`
	Forward *forwardRequest `json:"forward"`
}

type forwardRequest struct {
	Always        *string `json:"always"`
	Busy          *string `json:"busy"`
	NoAnswer      *string `json:"no_answer"`
	NoAnswerAfter *int    `json:"no_answer_after"`
}

// apply merges the request into s, checking every value.
func (q lineRequest) apply(s *LineSettings) error {
	if q.DND != nil {
		s.DND = *q.DND
	}
	if q.DNDCode != nil {
		switch *q.DNDCode {
		case 0, 480, 486:
			s.DNDCode = *q.DNDCode
		default:
			return badRequest{fmt.Errorf(`"dnd_code" %d is not 486 or 480`, *q.DNDCode)}
		}
	}
	f := q.Forward
	if f == nil {
		return nil
	}
	for _, t := range []struct {
		name string
		v    *string
		dst  *string
	}{{"forward.always", f.Always, &s.Forward.Always}, {"forward.busy", f.Busy, &s.Forward.Busy}, {"forward.no_answer", f.NoAnswer, &s.Forward.NoAnswer}} {
		if t.v == nil {
			continue
		}
		if *t.v != "" {
			if err := checkTarget(t.name, *t.v); err != nil {
				return err
			}
		}
		*t.dst = *t.v
	}
	if n := f.NoAnswerAfter; n != nil {
		if *n < 0 || *n > MaxNoAnswerAfter {
			return badRequest{fmt.Errorf(`"forward.no_answer_after" %d is out of range 0..%d seconds`, *n, MaxNoAnswerAfter)}
		}
		s.Forward.NoAnswerAfter = *n
	}
	return nil
}

// pathInt parses the path value name as a number 0..max.
func pathInt(r *http.Request, name string, max uint64) (uint64, error) {
	v := r.PathValue(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > max {
		return 0, badRequest{fmt.Errorf("%q is not a valid %s (a number 0..%d)", v, name, max)}
	}
	return n, nil
}

func (s *Server) lineRoutes(mux *http.ServeMux) {
	a := s.cfg.Actions
	s.handle(mux, "GET /api/lines", func(ctx context.Context, _ *http.Request, _ []byte) (int, any, error) {
		ls, err := a.Lines(ctx)
		if err != nil {
			return 0, nil, err
		}
		if ls == nil {
			ls = []Line{}
		}
		return http.StatusOK, map[string][]Line{"lines": ls}, nil
	})
	s.handle(mux, "PUT /api/lines/{line}", func(ctx context.Context, r *http.Request, body []byte) (int, any, error) {
		n, err := pathInt(r, "line", 255)
		if err != nil {
			return 0, nil, err
		}
		var q lineRequest
		if err := decode(body, &q); err != nil {
			return 0, nil, err
		}
		ls, err := a.Lines(ctx)
		if err != nil {
			return 0, nil, err
		}
		cur := -1
		for i, l := range ls {
			if l.Line == int(n) {
				cur = i
			}
		}
		if cur < 0 {
			return 0, nil, fmt.Errorf("%w: line %d", ErrNotFound, n)
		}
		l := ls[cur]
		if err := q.apply(&l.LineSettings); err != nil {
			return 0, nil, err
		}
		if err := a.SetLine(ctx, l.Line, l.LineSettings); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, l, nil
	})
}

// errMissing is a body that had to say something and said nothing.
var errMissing = badRequest{errors.New("a JSON object body is required")}
