package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// maxTarget bounds a number or URI in a request.
const maxTarget = 256

// checkTarget refuses an empty, over-long or unprintable number or URI.
func checkTarget(field, to string) error {
	switch {
	case to == "":
		return badRequest{fmt.Errorf("%q is required", field)}
	case len(to) > maxTarget:
		return badRequest{fmt.Errorf("%q is longer than %d bytes", field, maxTarget)}
	case strings.IndexFunc(to, unicode.IsControl) >= 0:
		return badRequest{fmt.Errorf("%q holds control characters", field)}
	}
	return nil
}

func checkLine(line *int) error {
	if line != nil && (*line < 0 || *line > 255) {
		return badRequest{fmt.Errorf(`"line" %d is out of range 0..255`, *line)}
	}
	return nil
}

type callRequest struct {
	To        string `json:"to"`
	Line      *int   `json:"line"`
	SpeedDial string `json:"speed_dial"`
}

type callIDRequest struct {
	CallID string `json:"call_id"`
}

type rejectRequest struct {
	CallID string `json:"call_id"`
	Code   int    `json:"code"`
}

type transferRequest struct {
	To       string `json:"to"`
	CallID   string `json:"call_id"`
	ToCallID string `json:"to_call_id"`
}

type routeRequest struct {
	Route string `json:"route"`
}

// none is the body of an action that takes no fields.
type none struct{}

func (s *Server) callRoutes(mux *http.ServeMux) {
	a := s.cfg.Actions
	action(s, mux, "POST /api/call", func(ctx context.Context, _ *http.Request, b callRequest) error {
		if err := checkLine(b.Line); err != nil {
			return err
		}
		to := b.To
		switch {
		case b.To != "" && b.SpeedDial != "":
			return badRequest{errors.New(`"to" and "speed_dial" exclude each other`)}
		case b.SpeedDial != "":
			if k := b.SpeedDial; len(k) != 1 || k[0] < '0' || k[0] > '9' {
				return badRequest{fmt.Errorf(`"speed_dial" %q is not one digit 0-9`, k)}
			}
			n, err := a.SpeedDial(ctx, b.SpeedDial)
			if err != nil {
				return err
			}
			to = n
		case b.To == "":
			return badRequest{errors.New(`"to" or "speed_dial" is required`)}
		default:
			if err := checkTarget("to", b.To); err != nil {
				return err
			}
		}
		if b.Line == nil {
			return a.Call(ctx, to)
		}
		return a.CallOn(ctx, *b.Line, to)
	})
	// answer, hangup, hold and resume act on the call named, or as
	// before on the one call the phone would choose.
	byID := func(path string, all func(context.Context) error, one func(context.Context, string) error) {
		action(s, mux, "POST "+path, func(ctx context.Context, _ *http.Request, b callIDRequest) error {
			if b.CallID == "" {
				return all(ctx)
			}
			return one(ctx, b.CallID)
		})
	}
	byID("/api/answer", a.Answer, a.AnswerCall)
	byID("/api/hangup", a.Hangup, a.HangupCall)
	byID("/api/hold", a.Hold, a.HoldCall)
	byID("/api/resume", a.Resume, a.ResumeCall)
	action(s, mux, "POST /api/reject", func(ctx context.Context, _ *http.Request, b rejectRequest) error {
		if b.Code == 0 {
			b.Code = 486
		}
		if b.Code < 400 || b.Code > 699 {
			return badRequest{fmt.Errorf(`"code" %d is not a SIP failure status (400..699)`, b.Code)}
		}
		return a.RejectCall(ctx, b.CallID, b.Code)
	})
	action(s, mux, "POST /api/swap", func(ctx context.Context, _ *http.Request, _ none) error { return a.Swap(ctx) })
	action(s, mux, "POST /api/conference", func(ctx context.Context, _ *http.Request, _ none) error { return a.Conference(ctx) })
	action(s, mux, "POST /api/transfer", func(ctx context.Context, _ *http.Request, b transferRequest) error {
		switch {
		case b.To != "" && (b.CallID != "" || b.ToCallID != ""):
			return badRequest{errors.New(`"to" (blind transfer) excludes "call_id" and "to_call_id" (attended)`)}
		case b.To != "":
			if err := checkTarget("to", b.To); err != nil {
				return err
			}
			return a.Transfer(ctx, b.To)
		case (b.CallID == "") != (b.ToCallID == ""):
			return badRequest{errors.New(`"call_id" and "to_call_id" go together`)}
		case b.CallID != "" && b.CallID == b.ToCallID:
			return badRequest{errors.New(`"call_id" and "to_call_id" name the same call`)}
		}
		return a.TransferAttended(ctx, b.CallID, b.ToCallID)
	})
	action(s, mux, "POST /api/route", func(ctx context.Context, _ *http.Request, b routeRequest) error {
		switch b.Route {
		case "handset", "speaker", "headset":
			return a.SetRoute(ctx, b.Route)
		}
		return badRequest{fmt.Errorf(`"route" %q is not one of handset, speaker, headset`, b.Route)}
	})
	action(s, mux, "POST /api/dtmf", func(ctx context.Context, _ *http.Request, b struct {
		Digits string `json:"digits"`
	}) error {
		d := b.Digits
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
	action(s, mux, "POST /api/key", func(ctx context.Context, _ *http.Request, b struct {
		Key  string `json:"key"`
		Hook string `json:"hook"`
	}) error {
		switch {
		case b.Hook == "off" || b.Hook == "on":
			return a.Key(ctx, "hook:"+b.Hook)
		case b.Key != "":
			return a.Key(ctx, b.Key)
		}
		return badRequest{errors.New(`"key" or "hook" ("off"/"on") is required`)}
	})
}
