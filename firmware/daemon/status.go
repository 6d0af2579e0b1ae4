package daemon

import (
	"math"
	"strings"
	"time"

	"github.com/deskphone/phone/voip/sip"
)

// StatusSchema is the version of the status document (GET /api/status,
// its "schema" field; docs/api.md). It changes when a field is renamed,
// removed or changes its meaning or unit; new fields do not change it.
// Documents without the field are the unversioned one before it, whose
// registration used Go field names and nanoseconds.
const StatusSchema = 2

// RegStatus is a line's registration in the status document: snake_case
// keys, durations in seconds, times in RFC 3339.
type RegStatus struct {
	// State is unregistered, registering, registered or failed.
	State sip.RegState `json:"state"`
	// Code and Reason are the last final response (0 and an error text
	// for timeouts and transport errors).
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
	// Why says in plain words why the line is not registered (failed
	// only): what a person checks or changes.
	Why string `json:"why,omitempty"`
	// ExpiresS is the binding's lifetime the registrar granted.
	ExpiresS float64 `json:"expires_s"`
	// RefreshInS counts down to the next REGISTER (a refresh, or a retry
	// after a failure); 0 when none is due.
	RefreshInS float64 `json:"refresh_in_s"`
	// Since is when State last changed (the daemon's start for a line
	// that never tried); SinceS is how long ago, in seconds.
	Since  time.Time `json:"since"`
	SinceS float64   `json:"since_s"`
	// Contact is the contact registered; Received the source address the
	// registrar saw (RFC 3581); ContactAddr and EchoedContact the
	// address in the Contact sent and the one the registrar echoed
	// (they differ behind a SIP ALG).
	Contact       string `json:"contact,omitempty"`
	Received      string `json:"received,omitempty"`
	ContactAddr   string `json:"contact_addr,omitempty"`
	EchoedContact string `json:"echoed_contact,omitempty"`
	// Failures counts consecutive failed attempts.
	Failures int `json:"failures"`
	// Server is the target of the last attempt.
	Server string `json:"server,omitempty"`
}

// regStatus turns the UA's registration into the document's, as of now;
// started is when the daemon started.
func regStatus(s sip.RegStatus, now, started time.Time) RegStatus {
	r := RegStatus{
		State: s.State, Code: s.Code, Reason: s.Reason, ExpiresS: s.Expires.Seconds(),
		Since: s.Since, Contact: s.Contact, Failures: s.Failures, Server: s.Server,
	}
	if r.State == "" {
		r.State = sip.RegUnregistered
	}
	if r.Since.IsZero() {
		r.Since = started
	}
	r.SinceS = seconds(now.Sub(r.Since))
	if !s.RefreshAt.IsZero() {
		r.RefreshInS = seconds(max(s.RefreshAt.Sub(now), 0))
	}
	if s.Received.IsValid() {
		r.Received = s.Received.String()
	}
	if s.ContactAddr.IsValid() {
		r.ContactAddr = s.ContactAddr.String()
	}
	if s.EchoedContact.IsValid() {
		r.EchoedContact = s.EchoedContact.String()
	}
	if s.State == sip.RegFailed {
		r.Why = regWhy(s)
	}
	return r
}

// seconds is a duration in seconds, to the millisecond (no binary
// fraction noise such as 1.9340000000000002 in the JSON).
func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}

// regWhy explains a failed registration in words a person acts on.
func regWhy(s sip.RegStatus) string {
	reason := strings.ToLower(s.Reason)
	switch {
	case s.Code == 401 || s.Code == 407 || strings.Contains(reason, "authentication failed"):
		return "the registrar refused the credentials: check the account's user, auth_user and password"
	case s.Code == 403:
		return "the registrar forbids this account (403): check the user, domain and password, or ask the PBX administrator"
	case s.Code == 404:
		return "the registrar does not know this user (404): check the account's user and domain"
	case s.Code == 423:
		return "the registrar wants a longer registration (423): raise the account's expires"
	case s.Code >= 500 && s.Code < 600:
		return "the registrar is unavailable or overloaded; the phone retries"
	case s.Code >= 300:
		return "the registrar refused the registration (" + s.Reason + ")"
	case strings.Contains(reason, "x509") || strings.Contains(reason, "certificate"):
		return "TLS: the registrar's certificate is not trusted or does not match its name: check tls_ca_file and the registrar's name"
	case strings.Contains(reason, "tls") || strings.Contains(reason, "handshake"):
		return "TLS: the secure connection to the registrar failed: check that it speaks TLS on that port"
	case strings.Contains(reason, "no such host") || strings.Contains(reason, "lookup") || strings.Contains(reason, "resolve"):
		return "the registrar's name does not resolve: check the registrar (or domain) and the DNS servers"
	case strings.Contains(reason, "refused"):
		return "the registrar refused the connection: check its address, port and transport"
	case strings.Contains(reason, "timeout") || strings.Contains(reason, "timed out") || strings.Contains(reason, "answers") ||
		strings.Contains(reason, "deadline") || strings.Contains(reason, "unreachable"):
		return "the registrar does not answer: check its address and port, the network and any firewall"
	case s.Reason != "":
		return "the registration failed: " + s.Reason
	}
	return "the registration failed"
}

// logRegistration logs a registration change: a failure at WARN with
// the reason in words (regWhy), once for each different reason (the
// retries of the same failure are at DEBUG); registering again after a
// failure at INFO, as every other change.
func (l *uaLine) logRegistration(s sip.RegStatus) {
	if s.State == sip.RegFailed {
		why := regWhy(s)
		if why == l.warned {
			l.log.Debug("registration failed again", "code", s.Code, "reason", s.Reason, "failures", s.Failures)
			return
		}
		l.warned = why
		l.log.Warn("registration failed", "why", why, "code", s.Code, "reason", s.Reason, "server", s.Server, "account", l.name)
		return
	}
	if s.State == sip.RegRegistered {
		l.warned = ""
	}
	l.log.Info("registration", "state", s.State, "code", s.Code, "reason", s.Reason)
}
