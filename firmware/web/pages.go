package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
)

func (h *Handler) routes() {
	m := h.mux
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusSeeOther)
	})
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	h.post("/logout", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		h.sess.drop(s)
		clearCookie(w, r)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return "", nil, nil
	})
	for _, p := range []string{"status", "calls", "accounts", "network", "audio", "keys", "phonebook", "history", "firmware", "admin"} {
		h.page("/"+p, func(w http.ResponseWriter, r *http.Request, s *session) {
			d := &pageData{Kind: r.URL.Query().Get("kind")}
			if id := r.URL.Query().Get("edit"); id != "" && p == "phonebook" {
				ctx, cancel := actionCtx(r)
				e, err := h.cfg.Actions.PhonebookEntry(ctx, id)
				cancel()
				if err != nil {
					d.Error = err.Error()
				} else {
					d.Edit = &e
				}
			}
			h.fill(r.Context(), p, d)
			h.render(w, r, s, http.StatusOK, p, d)
		})
	}
	h.callRoutes()
	h.configRoutes()
	h.bookRoutes()
	h.keyRoutes()
	h.systemRoutes()
	h.diagRoutes()
}

// fill loads what a page shows.
func (h *Handler) fill(ctx context.Context, page string, d *pageData) {
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	a := h.cfg.Actions
	if d.Title == "" {
		d.Title = titles[page]
	}
	switch page {
	case "status", "calls", "network", "accounts", "keys":
		st, err := readStatus(h.cfg.Status())
		if err != nil && d.Error == "" {
			d.Error = err.Error()
		}
		d.Status = st
		d.Refresh = page == "status" || page == "calls"
	}
	switch page {
	case "accounts", "network", "audio", "keys":
		d.Cfg = api.RedactConfig(h.cfg.Store.Config())
		d.Tones = config.ToneCountries
	}
	switch page {
	case "accounts":
		ls, err := a.Lines(ctx)
		d.Lines = ls
		if err != nil {
			d.LinesErr = err.Error()
		}
	case "keys":
		lamps := map[string]string{}
		if d.Status != nil {
			for _, l := range d.Status.Phone.Lamps {
				lamps[l.Key] = l.State
			}
		}
		d.Keys = keyRows(d.Cfg, d.Form, lamps) // d.Form: a refused form
	case "phonebook":
		b, err := a.Phonebook(ctx)
		d.Book = b
		if err != nil {
			d.BookErr = err.Error()
		}
	case "history":
		if !slices.Contains(api.HistoryKinds, d.Kind) {
			d.Kind = ""
		}
		d.Kinds = api.HistoryKinds
		hs, err := a.History(ctx, d.Kind, 200)
		d.History = hs
		if err != nil {
			d.HistErr = err.Error()
		}
	}
}

var titles = map[string]string{
	"status": "Status", "calls": "Calls", "accounts": "Accounts and lines", "network": "NAT and ports",
	"audio": "Audio", "keys": "Busy lamp keys", "phonebook": "Phonebook", "history": "Call history", "firmware": "Firmware",
	"admin": "Admin password", "login": "Log in",
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	hash := h.hash()
	now := h.cfg.Now()
	s, _ := h.sess.get(r, now)
	if hash == "" || (s != nil && s.authed && s.hash == hash) {
		http.Redirect(w, r, "/status", http.StatusSeeOther)
		return
	}
	if s == nil {
		var err error
		if s, err = h.sess.create(now, false, ""); err != nil {
			h.fail(w, r, err)
			return
		}
		setCookie(w, r, s)
	}
	h.render(w, r, s, http.StatusOK, "login", &pageData{Title: titles["login"], Next: localPath(r.URL.Query().Get("next"))})
}

// localPath returns p when it is a path on this site, else "".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return ""
	}
	return p
}

// login checks the admin password: the login form's CSRF token first,
// then the source's lockout, then the password.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now()
	hash := h.hash()
	if hash == "" {
		http.Redirect(w, r, "/status", http.StatusSeeOther)
		return
	}
	s, _ := h.sess.get(r, now)
	if s == nil {
		// No login form was loaded in this browser (or it is too old).
		var err error
		if s, err = h.sess.create(now, false, ""); err != nil {
			h.fail(w, r, err)
			return
		}
		setCookie(w, r, s)
		h.render(w, r, s, http.StatusForbidden, "login", &pageData{Title: titles["login"], Error: "The login form expired; please try again."})
		return
	}
	if !h.parseForm(w, r, s) {
		return
	}
	d := &pageData{Title: titles["login"], Next: localPath(r.PostForm.Get("next"))}
	src := source(r)
	if wait := h.lim.wait(src, now); wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.Error = fmt.Sprintf("Too many failed logins from your address; try again in %d s.", secs)
		d.Retry = secs
		h.render(w, r, s, http.StatusTooManyRequests, "login", d)
		return
	}
	select {
	case h.checks <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		d.Error = "The phone is busy checking other logins; try again in a second."
		h.render(w, r, s, http.StatusServiceUnavailable, "login", d)
		return
	}
	ok := passwordOK(hash, r.PostForm.Get("password"))
	<-h.checks
	if !ok {
		lock := h.lim.fail(src, now)
		h.log.Warn("web login failed", "raddr", r.RemoteAddr, "lockout", lock)
		d.Error = "Wrong password."
		if lock > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(lock.Seconds()))))
			d.Error += fmt.Sprintf(" Too many failures: the next try is possible in %d s.", int(math.Ceil(lock.Seconds())))
		}
		h.render(w, r, s, http.StatusUnauthorized, "login", d)
		return
	}
	h.lim.succeed(src)
	// A new session id at login: an id planted before it is worth nothing.
	h.sess.drop(s)
	ns, err := h.sess.create(now, true, hash)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setCookie(w, r, ns)
	h.log.Info("web login", "raddr", r.RemoteAddr)
	next := d.Next
	if next == "" || strings.HasPrefix(next, "/login") {
		next = "/status"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) callRoutes() {
	a := h.cfg.Actions
	h.post("/calls/dial", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		to, line, err := parseDial(r.PostForm)
		d := &pageData{Form: r.PostForm}
		if err != nil {
			return "calls", d, err
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		if line == nil {
			err = a.Call(ctx, to)
		} else {
			err = a.CallOn(ctx, *line, to)
		}
		if err != nil {
			return "calls", d, err
		}
		return h.done(w, r, s, "/calls", "Calling "+to+".")
	})
	// answer, hangup, hold and resume: the call named, or as the API
	// does without call_id, the one the phone would choose.
	byID := func(name, msg string, all func(context.Context) error, one func(context.Context, string) error) {
		h.post("/calls/"+name, func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
			ctx, cancel := actionCtx(r)
			defer cancel()
			var err error
			if id := r.PostForm.Get("call_id"); id != "" {
				err = one(ctx, id)
			} else {
				err = all(ctx)
			}
			if err != nil {
				return "calls", nil, err
			}
			return h.done(w, r, s, "/calls", msg)
		})
	}
	byID("answer", "Answered.", a.Answer, a.AnswerCall)
	byID("hangup", "Hung up.", a.Hangup, a.HangupCall)
	byID("hold", "On hold.", a.Hold, a.HoldCall)
	byID("resume", "Resumed.", a.Resume, a.ResumeCall)
	simple := func(name, msg string, f func(context.Context) error) {
		h.post("/calls/"+name, func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
			ctx, cancel := actionCtx(r)
			defer cancel()
			if err := f(ctx); err != nil {
				return "calls", nil, err
			}
			return h.done(w, r, s, "/calls", msg)
		})
	}
	simple("swap", "Swapped.", a.Swap)
	simple("conference", "Conference.", a.Conference)
	h.post("/calls/transfer", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		f := r.PostForm
		d := &pageData{Form: f}
		var c checker
		to := c.text(f, "to")
		id, toID := c.text(f, "call_id"), c.text(f, "to_call_id")
		if err := c.err(); err != nil {
			return "calls", d, err
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		var err error
		switch {
		case to != "":
			err = a.Transfer(ctx, to)
		case (id == "") != (toID == ""):
			err = formError{"to_call_id: choose both calls, or neither (the held call to the active one)"}
		default:
			err = a.TransferAttended(ctx, id, toID)
		}
		if err != nil {
			return "calls", d, err
		}
		return h.done(w, r, s, "/calls", "Transferred.")
	})
}

func (h *Handler) configRoutes() {
	a := h.cfg.Actions
	store := h.cfg.Store
	// editAccount changes account i (i == len: a new one) and saves.
	h.post("/accounts/{i}", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		d := &pageData{}
		c := store.Config().Clone()
		i, err := strconv.Atoi(r.PathValue("i"))
		if err != nil || i < 0 || i > len(c.Accounts) {
			return "accounts", d, fmt.Errorf("%w: no account %q", api.ErrNotFound, r.PathValue("i"))
		}
		d.Form, d.FormAccount = r.PostForm, i+1
		old := config.DefaultAccount()
		if i < len(c.Accounts) {
			old = c.Accounts[i]
		}
		acct, err := parseAccount(r.PostForm, old)
		if err != nil {
			return "accounts", d, err
		}
		if i == len(c.Accounts) {
			c.Accounts = append(c.Accounts, acct)
		} else {
			c.Accounts[i] = acct
		}
		msg, err := h.save(c)
		if err != nil {
			return "accounts", d, err
		}
		return h.done(w, r, s, "/accounts", "Account "+acct.User+"@"+acct.Domain+": "+msg)
	})
	h.post("/accounts/{i}/delete", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		c := store.Config().Clone()
		i, err := strconv.Atoi(r.PathValue("i"))
		if err != nil || i < 0 || i >= len(c.Accounts) {
			return "accounts", nil, fmt.Errorf("%w: no account %q", api.ErrNotFound, r.PathValue("i"))
		}
		c.DeleteAccount(i) // its busy lamp keys go too, the later ones follow their accounts
		msg, err := h.save(c)
		if err != nil {
			return "accounts", nil, err
		}
		return h.done(w, r, s, "/accounts", "Account deleted. "+msg)
	})
	h.post("/lines/{n}", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n > 255 {
			return "accounts", nil, fmt.Errorf("%w: no line %q", api.ErrNotFound, r.PathValue("n"))
		}
		ls, err := parseLine(r.PostForm)
		if err != nil {
			return "accounts", nil, err
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		if err := a.SetLine(ctx, n, ls); err != nil {
			return "accounts", nil, err
		}
		return h.done(w, r, s, "/accounts", fmt.Sprintf("Line %d saved.", n))
	})
	h.post("/network", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		c := store.Config().Clone()
		if err := parseNetwork(r.PostForm, c); err != nil {
			return "network", nil, err
		}
		msg, err := h.save(c)
		if err != nil {
			return "network", nil, err
		}
		return h.done(w, r, s, "/network", msg)
	})
	h.post("/audio", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		c := store.Config().Clone()
		if err := parseAudio(r.PostForm, c); err != nil {
			return "audio", nil, err
		}
		msg, err := h.save(c)
		if err != nil {
			return "audio", nil, err
		}
		return h.done(w, r, s, "/audio", msg)
	})
	h.post("/admin/password", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		f := r.PostForm
		c := store.Config().Clone()
		if c.Web.PasswordHash != "" && !passwordOK(c.Web.PasswordHash, f.Get("current")) {
			return "admin", nil, formError{"current: wrong password"}
		}
		pw := f.Get("new")
		if pw != f.Get("repeat") {
			return "admin", nil, formError{"repeat: the two new passwords differ"}
		}
		hash, err := HashPassword(pw)
		if err != nil {
			return "admin", nil, formError{"new: " + strings.TrimPrefix(err.Error(), "web: ")}
		}
		c.Web.PasswordHash = hash
		if _, err := store.SaveConfig(c); err != nil {
			return "admin", nil, err
		}
		// Every other session ends with the old password; this one goes on.
		h.sess.drop(s)
		ns, err := h.sess.create(h.cfg.Now(), true, hash)
		if err != nil {
			return "admin", nil, err
		}
		setCookie(w, r, ns)
		h.log.Warn("web admin password changed", "raddr", r.RemoteAddr)
		return h.done(w, r, ns, "/admin", "Password changed; other sessions are logged out.")
	})
}

func (h *Handler) bookRoutes() {
	a := h.cfg.Actions
	h.post("/phonebook", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		d := &pageData{Form: r.PostForm}
		e, err := parseEntry(r.PostForm)
		if err != nil {
			return "phonebook", d, err
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		if e, err = a.AddPhonebook(ctx, e); err != nil {
			return "phonebook", d, err
		}
		return h.done(w, r, s, "/phonebook", "Added "+e.Name+".")
	})
	h.post("/phonebook/{id}", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		id := r.PathValue("id")
		d := &pageData{Form: r.PostForm}
		e, err := parseEntry(r.PostForm)
		if err != nil {
			e.ID = id
			d.Edit = &e
			return "phonebook", d, err
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		if e, err = a.UpdatePhonebook(ctx, id, e); err != nil {
			return "phonebook", d, err
		}
		return h.done(w, r, s, "/phonebook", "Saved "+e.Name+".")
	})
	h.post("/phonebook/{id}/delete", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		ctx, cancel := actionCtx(r)
		defer cancel()
		if err := a.DeletePhonebook(ctx, r.PathValue("id")); err != nil {
			return "phonebook", nil, err
		}
		return h.done(w, r, s, "/phonebook", "Deleted.")
	})
	h.post("/history/{id}/dial", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 63)
		if err != nil {
			return "history", nil, fmt.Errorf("%w: no history entry %q", api.ErrNotFound, r.PathValue("id"))
		}
		ctx, cancel := actionCtx(r)
		defer cancel()
		e, err := a.HistoryEntry(ctx, id)
		if err != nil {
			return "history", nil, err
		}
		if e.Remote == "" {
			return "history", nil, errors.New("this call has no number to dial")
		}
		if err := a.CallOn(ctx, e.Line, e.Remote); err != nil {
			return "history", nil, err
		}
		return h.done(w, r, s, "/calls", "Calling "+e.Remote+".")
	})
	h.post("/history/clear", func(w http.ResponseWriter, r *http.Request, s *session) (string, *pageData, error) {
		ctx, cancel := actionCtx(r)
		defer cancel()
		if err := a.ClearHistory(ctx); err != nil {
			return "history", nil, err
		}
		return h.done(w, r, s, "/history", "History cleared.")
	})
}
