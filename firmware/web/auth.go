package web

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/deskphone/phone/firmware/api"
)

// Session and login limits.
const (
	// DefaultSessionIdle ends a session nobody used for this long.
	DefaultSessionIdle = 30 * time.Minute
	// DefaultSessionMax ends any session this long after login.
	DefaultSessionMax = 12 * time.Hour
	// maxSessions bounds the sessions kept; the least recently used goes.
	maxSessions = 64
	// freeFailures are the failed logins a source has before lockouts.
	freeFailures = 3
	// firstLockout doubles with each failure after the free ones, up to
	// maxLockout.
	firstLockout = time.Second
	maxLockout   = 5 * time.Minute
	// forgetFailures drops a source's count after this long without a
	// failure.
	forgetFailures = time.Hour
	// maxSources bounds the sources the limiter remembers.
	maxSources = 4096
	// MinPasswordLen is the shortest admin password the page accepts.
	MinPasswordLen = 8
	// cookieName is the session cookie's name, followed by "_" and the
	// port the page is served on: browsers keep cookies per host, not
	// per port, and two phones on one host (a tester's laptop) must not
	// log each other out.
	cookieName = "deskphone_session"
)

// session is one browser's login (or, before login, its CSRF token for
// the login form).
type session struct {
	id, csrf string
	authed   bool
	// hash is the password hash the session logged in with; a session
	// of another hash (the password changed) is no longer valid.
	hash          string
	created, seen time.Time
	flash         string
}

// sessions holds the sessions by id.
type sessions struct {
	idle, max time.Duration
	rand      io.Reader

	mu sync.Mutex // guards m
	m  map[string]*session
}

func newSessions(idle, max time.Duration, rand io.Reader) *sessions {
	return &sessions{idle: idle, max: max, rand: rand, m: map[string]*session{}}
}

// token returns 32 random bytes, base64url.
func token(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("web: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create makes a new session, evicting the least recently used one when
// full.
func (ss *sessions) create(now time.Time, authed bool, hash string) (*session, error) {
	id, err := token(ss.rand)
	if err != nil {
		return nil, err
	}
	csrf, err := token(ss.rand)
	if err != nil {
		return nil, err
	}
	s := &session{id: id, csrf: csrf, authed: authed, hash: hash, created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, o := range ss.m {
		if ss.expiredLocked(o, now) {
			delete(ss.m, id)
		}
	}
	if len(ss.m) >= maxSessions {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.seen.Before(oldest.seen) {
				oldest = o
			}
		}
		delete(ss.m, oldest.id)
	}
	ss.m[id] = s
	return s, nil
}

func (ss *sessions) expiredLocked(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= ss.idle || now.Sub(s.created) >= ss.max
}

// get returns the session of the request's cookie, if it is valid, and
// marks it used. expired is true when there was one that has run out.
func (ss *sessions) get(r *http.Request, now time.Time) (s *session, expired bool) {
	c, err := r.Cookie(sessionCookie(r))
	if err != nil || c.Value == "" {
		return nil, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[c.Value]
	if !ok {
		return nil, false
	}
	if ss.expiredLocked(s, now) {
		delete(ss.m, s.id)
		return nil, s.authed
	}
	s.seen = now
	return s, false
}

// drop ends a session.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	delete(ss.m, s.id)
	ss.mu.Unlock()
}

// takeFlash returns and clears the session's message.
func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

func (ss *sessions) setFlash(s *session, msg string) {
	ss.mu.Lock()
	s.flash = msg
	ss.mu.Unlock()
}

// sessionCookie is the cookie's name for the port r came to.
func sessionCookie(r *http.Request) string {
	_, port, err := net.SplitHostPort(r.Host)
	if err != nil || port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return cookieName
		}
	}
	return cookieName + "_" + port
}

// csrfOK compares a form's token with the session's in constant time.
func csrfOK(s *session, got string) bool {
	return s != nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// setCookie gives the browser the session's cookie.
func setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie(r), Value: s.id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// limiter counts failed logins per source and locks a source out, for
// longer after each failure, once it has had its free ones.
type limiter struct {
	mu sync.Mutex // guards m
	m  map[netip.Prefix]*strikes
}

type strikes struct {
	fails int
	last  time.Time // of the last failure
	until time.Time // locked out before this
}

func newLimiter() *limiter { return &limiter{m: map[netip.Prefix]*strikes{}} }

// source is a request's client: its address, or its /64 for IPv6 (one
// host usually has a whole /64 to choose from).
func source(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p
	}
	return netip.PrefixFrom(ip, 32)
}

// wait returns how long src is still locked out (0: it may try).
func (l *limiter) wait(src netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[src]
	if !ok || !now.Before(s.until) {
		return 0
	}
	return s.until.Sub(now)
}

// fail counts a failed login and returns the lockout it earned.
func (l *limiter) fail(src netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[src]
	if ok && now.Sub(s.last) >= forgetFailures {
		s.fails = 0
	}
	if !ok {
		if len(l.m) >= maxSources {
			l.pruneLocked(now)
		}
		s = &strikes{}
		l.m[src] = s
	}
	s.fails++
	s.last = now
	if s.fails <= freeFailures {
		return 0
	}
	d := maxLockout
	if n := s.fails - freeFailures - 1; n < 20 {
		d = min(firstLockout<<n, maxLockout)
	}
	s.until = now.Add(d)
	return d
}

// succeed forgets a source's failures.
func (l *limiter) succeed(src netip.Prefix) {
	l.mu.Lock()
	delete(l.m, src)
	l.mu.Unlock()
}

// pruneLocked drops forgotten sources, or else the one that failed
// longest ago.
func (l *limiter) pruneLocked(now time.Time) {
	var oldest netip.Prefix
	var at time.Time
	for p, s := range l.m {
		if now.Sub(s.last) >= forgetFailures {
			delete(l.m, p)
			continue
		}
		if at.IsZero() || s.last.Before(at) {
			oldest, at = p, s.last
		}
	}
	if len(l.m) >= maxSources {
		delete(l.m, oldest)
	}
}

// hashCost is bcrypt's cost for new hashes (tests lower it).
var hashCost = bcrypt.DefaultCost

// HashPassword returns the bcrypt hash of an admin password, for the
// config's web.password_hash.
func HashPassword(pw string) (string, error) {
	if len(pw) < MinPasswordLen {
		return "", fmt.Errorf("web: the password must have at least %d characters", MinPasswordLen)
	}
	if len(pw) > 72 {
		return "", fmt.Errorf("web: the password must have at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), hashCost)
	if err != nil {
		return "", fmt.Errorf("web: hash: %w", err)
	}
	return string(h), nil
}

// passwordAlphabet leaves out characters that are easy to misread on a
// console (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// GeneratePassword returns a random admin password of 16 characters
// (about 93 bits) drawn from rand, for a phone's first start.
func GeneratePassword(rand io.Reader) (string, error) {
	const n = 16
	out := make([]byte, 0, n)
	buf := make([]byte, 1)
	// Rejection sampling: no bias towards the alphabet's first letters.
	limit := 256 - 256%len(passwordAlphabet)
	for len(out) < n {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("web: random: %w", err)
		}
		if int(buf[0]) < limit {
			out = append(out, passwordAlphabet[int(buf[0])%len(passwordAlphabet)])
		}
	}
	return string(out), nil
}

// passwordOK checks pw against a bcrypt hash.
func passwordOK(hash, pw string) bool {
	return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// FirstPassword gives a phone that is reachable from the network an
// admin password at its first start. When the config has no
// web.password_hash and listen (the API's address) is not loopback, it
// makes a random password, saves its hash through the store and returns
// the password, for the caller to show once (on the console, in the
// log). It returns "" when there is nothing to do, and an error when the
// config could not be saved (then the page stays loopback-only).
func FirstPassword(store api.ConfigStore, listen string, rand io.Reader) (string, error) {
	c := store.Config()
	if c.Web.PasswordHash != "" || listen == "" || api.Loopback(listen) {
		return "", nil
	}
	pw, err := GeneratePassword(rand)
	if err != nil {
		return "", err
	}
	h, err := HashPassword(pw)
	if err != nil {
		return "", err
	}
	n := c.Clone()
	n.Web.PasswordHash = h
	if _, err := store.SaveConfig(n); err != nil {
		return "", fmt.Errorf("web: saving the first admin password: %w", err)
	}
	return pw, nil
}
