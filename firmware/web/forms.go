package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deskphone/phone/firmware/api"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/phonebook"
)

// formError lists a form's problems, each "field: problem". A handler
// answers it 400 and shows every line next to the form.
type formError []string

func (e formError) Error() string { return strings.Join(e, "; ") }

// checker collects a form's problems.
type checker struct{ errs formError }

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, field+": "+fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// maxField bounds any text field of a form.
const maxField = 256

// text returns field's value, trimmed, checked to be at most maxField
// bytes of printable UTF-8.
func (c *checker) text(f url.Values, field string) string {
	v := strings.TrimSpace(f.Get(field))
	switch {
	case len(v) > maxField:
		c.fail(field, "longer than %d bytes", maxField)
		return ""
	case !utf8.ValidString(v):
		c.fail(field, "not valid UTF-8")
		return ""
	case strings.ContainsFunc(v, unicode.IsControl):
		c.fail(field, "holds control characters")
		return ""
	}
	return v
}

// number reads an integer field in lo..hi; "" is def.
func (c *checker) number(f url.Values, field string, lo, hi, def int) int {
	v := c.text(f, field)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		c.fail(field, "%q is not a whole number %d..%d", v, lo, hi)
		return def
	}
	return n
}

// duration reads Go duration syntax ("25s", "1m") or whole seconds.
func (c *checker) duration(f url.Values, field string, def time.Duration) time.Duration {
	v := c.text(f, field)
	if v == "" {
		return def
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		c.fail(field, "%q is not a duration (\"25s\", \"1m\" or whole seconds)", v)
		return def
	}
	return d
}

// checkbox reads an HTML checkbox: present (any value) is true.
func checkbox(f url.Values, field string) bool {
	_, ok := f[field]
	return ok
}

// list splits a field on commas and white space.
func list(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// parseDial reads the calls page's dial form: a number, user or SIP URI
// and an optional line (nil: the default line).
func parseDial(f url.Values) (to string, line *int, err error) {
	var c checker
	to = c.text(f, "to")
	if to == "" && len(c.errs) == 0 {
		c.fail("to", "required")
	}
	if v := strings.TrimSpace(f.Get("line")); v != "" {
		n := c.number(f, "line", 0, 255, 0)
		line = &n
	}
	return to, line, c.err()
}

// parseLine reads a line's DND and forwarding form.
func parseLine(f url.Values) (api.LineSettings, error) {
	var c checker
	s := api.LineSettings{DND: checkbox(f, "dnd")}
	switch v := strings.TrimSpace(f.Get("dnd_code")); v {
	case "", "486":
		s.DNDCode = 486
	case "480":
		s.DNDCode = 480
	default:
		c.fail("dnd_code", "%q is not 486 or 480", v)
	}
	s.Forward.Always = c.text(f, "forward_always")
	s.Forward.Busy = c.text(f, "forward_busy")
	s.Forward.NoAnswer = c.text(f, "forward_no_answer")
	s.Forward.NoAnswerAfter = c.number(f, "no_answer_after", 0, api.MaxNoAnswerAfter, 0)
	return s, c.err()
}

// maxNumbers bounds the numbers of one phonebook entry.
const maxNumbers = 20

// parseNumbers reads the phonebook form's numbers: one a line, the
// number first, an optional label after white space ("1002 office").
func parseNumbers(v string) ([]phonebook.Number, error) {
	var c checker
	var out []phonebook.Number
	if len(v) > maxNumbers*(maxField+2) {
		c.fail("numbers", "too long")
		return nil, c.err()
	}
	for i, ln := range strings.Split(v, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		field := fmt.Sprintf("numbers line %d", i+1)
		switch {
		case !utf8.ValidString(ln):
			c.fail(field, "not valid UTF-8")
			continue
		case strings.ContainsFunc(ln, unicode.IsControl):
			c.fail(field, "holds control characters")
			continue
		case len(ln) > maxField:
			c.fail(field, "longer than %d bytes", maxField)
			continue
		}
		num, label, _ := strings.Cut(ln, " ")
		if len(out) == maxNumbers {
			c.fail("numbers", "more than %d numbers", maxNumbers)
			break
		}
		out = append(out, phonebook.Number{Number: num, Label: strings.TrimSpace(label)})
	}
	if len(out) == 0 && len(c.errs) == 0 {
		c.fail("numbers", "at least one number is needed")
	}
	return out, c.err()
}

// parseEntry reads the phonebook form.
func parseEntry(f url.Values) (phonebook.Entry, error) {
	var c checker
	e := phonebook.Entry{Name: c.text(f, "name"), SpeedDial: c.text(f, "speed_dial")}
	if e.Name == "" && len(c.errs) == 0 {
		c.fail("name", "required")
	}
	if d := e.SpeedDial; d != "" && (len(d) != 1 || d[0] < '0' || d[0] > '9') {
		c.fail("speed_dial", "%q is not one digit 0-9", d)
	}
	nums, err := parseNumbers(f.Get("numbers"))
	if err != nil {
		c.errs = append(c.errs, err.(formError)...)
	}
	e.Numbers = nums
	return e, c.err()
}

// formatNumbers writes an entry's numbers as parseNumbers reads them.
func formatNumbers(ns []phonebook.Number) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(n.Number)
		if n.Label != "" {
			b.WriteString(" " + n.Label)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseAccount reads the accounts page's form into a; an empty password
// keeps a's. Auth user and registrar default as in the config file. The
// whole config is checked afterwards (config.Validate).
func parseAccount(f url.Values, a config.Account) (config.Account, error) {
	var c checker
	a.User = c.text(f, "user")
	a.AuthUser = c.text(f, "auth_user")
	if pw := f.Get("password"); pw != "" {
		if len(pw) > maxField {
			c.fail("password", "longer than %d bytes", maxField)
		} else {
			a.Password = pw
		}
	}
	a.DisplayName = c.text(f, "display_name")
	a.Domain = c.text(f, "domain")
	a.Registrar = c.text(f, "registrar")
	a.OutboundProxy = c.text(f, "outbound_proxy")
	a.Transport = strings.ToLower(c.text(f, "transport"))
	if a.Transport == "" {
		a.Transport = config.DefaultTransport
	}
	a.Expires = time.Duration(c.number(f, "expires", 60, 1<<31-1, int(config.DefaultExpires/time.Second))) * time.Second
	a.TLSCAFile = c.text(f, "tls_ca_file")
	a.Enabled = checkbox(f, "enabled")
	if a.AuthUser == "" {
		a.AuthUser = a.User
	}
	if a.Registrar == "" {
		a.Registrar = a.Domain
	}
	return a, c.err()
}

// parseNetwork reads the NAT and ports form into cfg; an empty TURN
// password keeps cfg's.
func parseNetwork(f url.Values, cfg *config.Config) error {
	var c checker
	n := &cfg.NAT
	n.STUNServers = list(c.text(f, "stun_servers"))
	n.Strategies = list(strings.ToLower(c.text(f, "strategies")))
	n.StaticExternal = c.text(f, "static_external")
	n.Keepalive = c.duration(f, "keepalive", config.DefaultKeepalive)
	n.EarlyUDP = checkbox(f, "early_udp")
	n.UPnP = checkbox(f, "upnp")
	n.TURN.Server = c.text(f, "turn_server")
	n.TURN.Username = c.text(f, "turn_username")
	if pw := f.Get("turn_password"); pw != "" {
		n.TURN.Password = c.text(f, "turn_password")
	}
	n.TURN.Fallbacks = list(c.text(f, "turn_fallbacks"))
	n.TURN.Transport = strings.ToLower(c.text(f, "turn_transport"))
	if n.TURN.Transport == "" {
		n.TURN.Transport = "udp"
	}
	n.TURN.CAFile = c.text(f, "turn_ca_file")
	n.ChangeCheck = c.duration(f, "change_check", config.DefaultChangeCheck)
	n.ICE = checkbox(f, "ice")
	port := func(field string, dst *uint16) {
		*dst = uint16(c.number(f, field, 1, 65535, int(*dst)))
	}
	port("sip_min", &cfg.Ports.SIP.Min)
	port("sip_max", &cfg.Ports.SIP.Max)
	port("media_min", &cfg.Ports.Media.Min)
	port("media_max", &cfg.Ports.Media.Max)
	cfg.Provision.URL = c.text(f, "provision_url") // docs/provisioning.md
	return c.err()
}

// parseAudio reads the audio form into cfg.
func parseAudio(f url.Values, cfg *config.Config) error {
	var c checker
	a := &cfg.Audio
	a.Input = c.text(f, "input")
	a.Output = c.text(f, "output")
	a.Volume = c.number(f, "volume", 0, 100, a.Volume)
	a.MicGain = c.number(f, "mic_gain", 0, 100, a.MicGain)
	a.Tones = strings.ToLower(c.text(f, "tones"))
	return c.err()
}
