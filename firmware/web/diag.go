package web

import (
	"net/http"

	"github.com/deskphone/phone/firmware/api"
)

// diagRoutes serve the Diagnostics page: the SIP trace's switch, its
// download and clearing (Config.Trace), and where metrics and syslog are.
func (h *Handler) diagRoutes() {
	h.page("/diagnostics", func(w http.ResponseWriter, r *http.Request, s *session) {
		d := &pageData{Title: "Diagnostics"}
		if t := h.cfg.Trace; t != nil {
			st := t.TraceState()
			d.Trace = &st
		}
		h.render(w, r, s, http.StatusOK, "diagnostics", d)
	})
	if h.cfg.Trace == nil {
		return
	}
	h.page("/diagnostics/trace.txt", func(w http.ResponseWriter, r *http.Request, s *session) {
		api.ServeTraceText(w, h.cfg.Trace, h.cfg.Now())
	})
	h.post("/diagnostics/trace", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		var on bool
		switch r.PostForm.Get("enabled") {
		case "on":
			on = true
		case "off":
		default:
			return "diagnostics", h.diagData(), formError{"enabled: on or off"}
		}
		h.cfg.Trace.SetTrace(on)
		h.log.Info("SIP trace switched from the web page", "enabled", on, "raddr", r.RemoteAddr)
		msg := "SIP trace stopped."
		if on {
			msg = "SIP trace started: make the call or registration to look at, then download the trace."
		}
		return h.done(w, r, s, "/diagnostics", msg)
	})
	h.post("/diagnostics/trace/clear", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		h.cfg.Trace.ClearTrace()
		return h.done(w, r, s, "/diagnostics", "SIP trace cleared.")
	})
}

func (h *Handler) diagData() *pageData {
	st := h.cfg.Trace.TraceState()
	return &pageData{Title: "Diagnostics", Trace: &st}
}
