package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/api"
)

// System is the device's update agent and power switch, which run in
// initd beside phoned (docs/image.md). The firmware page hands them what
// the administrator asks; without a System (phoned not under initd) the
// page says how updates are taken and offers no reboot or reset.
type System interface {
	// Update hands a signed update bundle to the agent, which checks and
	// installs it into the inactive slot and reboots into it on trial.
	// It returns the agent's answer.
	Update(ctx context.Context, bundle io.Reader, allowDowngrade bool) (string, error)
	// Reboot restarts the device.
	Reboot(ctx context.Context) error
	// FactoryReset wipes the data partition's settings and restarts.
	FactoryReset(ctx context.Context) error
}

// AgentError is the agent's refusal: its status and message.
type AgentError struct {
	Code int
	Msg  string
}

func (e *AgentError) Error() string { return fmt.Sprintf("update agent: %d %s", e.Code, e.Msg) }

// Agent is a System over initd's HTTP endpoints (POST /update,
// /system/reboot, /system/factory-reset) with the device token.
type Agent struct {
	// URL is the agent's base URL, such as http://127.0.0.1:8081.
	URL string
	// Token is the device token (on a device, api.token is the same).
	Token string
	// Client is nil for a client without an overall timeout (an update
	// streams for minutes; ctx bounds it).
	Client *http.Client
}

func (a *Agent) post(ctx context.Context, path string, body io.Reader) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(a.URL, "/")+path, body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("update agent: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return "", &AgentError{Code: res.StatusCode, Msg: msg}
	}
	return strings.TrimSpace(string(b)), nil
}

// Update posts the bundle to /update.
func (a *Agent) Update(ctx context.Context, bundle io.Reader, allowDowngrade bool) (string, error) {
	p := "/update"
	if allowDowngrade {
		p += "?allow-downgrade=1"
	}
	return a.post(ctx, p, bundle)
}

// Reboot posts /system/reboot.
func (a *Agent) Reboot(ctx context.Context) error {
	_, err := a.post(ctx, "/system/reboot", nil)
	return err
}

// FactoryReset posts /system/factory-reset.
func (a *Agent) FactoryReset(ctx context.Context) error {
	_, err := a.post(ctx, "/system/factory-reset", nil)
	return err
}

// Upload limits: a bundle is a root slot (48 MiB on the images today)
// plus its manifest; the agent bounds it again.
const (
	maxBundle     = 256 << 20
	uploadTimeout = 15 * time.Minute
)

// systemRoutes are the firmware page's actions; without a System they
// answer 404 (the page offers none).
func (h *Handler) systemRoutes() {
	sys := h.cfg.System
	h.mux.HandleFunc("POST /firmware/update", func(w http.ResponseWriter, r *http.Request) {
		s := h.session(w, r)
		if s == nil {
			return
		}
		if sys == nil {
			h.render(w, r, s, http.StatusNotFound, "error", &pageData{Title: "Not here", Error: "This phone takes updates from the flashing tool only."})
			return
		}
		page, d, err := h.upload(w, r, s, sys)
		if err == nil {
			return
		}
		code, d := h.errorPage(err, d)
		if ae, ok := errors.AsType[*AgentError](err); ok {
			code = ae.Code
			if code == http.StatusUnauthorized {
				// Our token, not the user's login, was refused.
				code = http.StatusBadGateway
				d.Error += " (api.token is not the device token the update agent expects)"
			}
		}
		h.fill(r.Context(), page, d)
		h.render(w, r, s, code, page, d)
	})
	power := func(path, msg string, f func(context.Context) error) {
		h.post(path, func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
			if sys == nil {
				return "firmware", nil, fmt.Errorf("%w: no update agent on this phone", api.ErrNotFound)
			}
			// A destructive action asks for the password again.
			if hash := h.hash(); hash != "" && !passwordOK(hash, r.PostForm.Get("password")) {
				return "firmware", nil, formError{"password: wrong password"}
			}
			ctx, cancel := actionCtx(r)
			defer cancel()
			if err := f(ctx); err != nil {
				return "firmware", nil, err
			}
			h.log.Warn("web: "+msg, "raddr", r.RemoteAddr)
			return h.done(w, r, s, "/firmware", msg)
		})
	}
	var reboot, reset func(context.Context) error
	if sys != nil {
		reboot, reset = sys.Reboot, sys.FactoryReset
	}
	power("/firmware/reboot", "Rebooting.", reboot)
	power("/firmware/factory-reset", "Factory reset: the phone wipes its settings and restarts.", reset)
}

// upload reads the firmware form as a stream: the CSRF token must come
// before the bundle (it does: the form's fields are in that order), so
// nothing of an unchecked upload reaches the agent.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, s *session, sys System) (string, *pageData, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return "firmware", nil, formError{"bundle: send the form (multipart/form-data)"}
	}
	// The API server's deadlines are for small requests; a bundle gets
	// the agent's own bound.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(uploadTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(uploadTimeout + time.Minute))
	r.Body = http.MaxBytesReader(w, r.Body, maxBundle)
	mr, err := r.MultipartReader()
	if err != nil {
		return "firmware", nil, formError{"bundle: " + err.Error()}
	}
	downgrade := false
	csrf := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return "firmware", nil, formError{"bundle: no file chosen"}
		}
		if err != nil {
			return "firmware", nil, formError{"bundle: " + err.Error()}
		}
		switch p.FormName() {
		case "csrf":
			v, _ := io.ReadAll(io.LimitReader(p, 256))
			if !csrfOK(s, string(v)) {
				h.render(w, r, s, http.StatusForbidden, "error", &pageData{Title: "Refused",
					Error: "This form is not from this page (missing or wrong CSRF token). Reload the page and try again."})
				return "", nil, nil
			}
			csrf = true
		case "allow_downgrade":
			downgrade = true
		case "bundle":
			if !csrf {
				h.render(w, r, s, http.StatusForbidden, "error", &pageData{Title: "Refused", Error: "The form's token must come before the file."})
				return "", nil, nil
			}
			if p.FileName() == "" {
				return "firmware", nil, formError{"bundle: no file chosen"}
			}
			ctx, cancel := context.WithTimeout(r.Context(), uploadTimeout)
			defer cancel()
			h.log.Warn("web: firmware upload", "raddr", r.RemoteAddr, "file", p.FileName())
			ans, err := sys.Update(ctx, p, downgrade)
			if err != nil {
				return "firmware", nil, err
			}
			return h.done(w, r, s, "/firmware", "The update agent took the bundle: "+ans)
		}
	}
}
