package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Allowed values of the enumerated fields.
var (
	Transports    = []string{"udp", "tcp", "tls"}
	SRTPPolicies  = []string{"off", "optional", "required"}
	SRTPKeyings   = []string{"sdes", "dtls", "both"}
	CodecNames    = []string{"G722", "PCMU", "PCMA", "OPUS"}
	DTMFModes     = []string{"rfc4733", "info"}
	Strategies    = []string{"static", "stun", "gateway", "turn"}
	ToneCountries = []string{"us", "uk", "de", "fr", "eu", "au", "jp"}
	Boards        = []string{"sim", "qemu", "rpi"}
	LogLevels     = []string{"debug", "info", "warn", "error"}
	LogFormats    = []string{"text", "json"}
	Terminators   = []string{"#", "*", ""}
	AcceptFroms   = []string{"proxy", "any"}
	DNDCodes      = []int{486, 480}
)

// MinTokenLength is the shortest api.token: a bearer token on the LAN
// must not be guessable.
const MinTokenLength = 16

// Limits of the checked ranges.
const (
	MinExpires    = 60 * time.Second
	MinKeepalive  = time.Second
	MinDialPause  = time.Second
	MaxDialPause  = 60 * time.Second
	MaxDigitLimit = 128
	MinRing       = 5 * time.Second
	MaxRing       = 10 * time.Minute
	// MinMemoryLimit is the smallest memory_limit other than 0: below it
	// the runtime would collect garbage without pause.
	MinMemoryLimit = 16 << 20
	// MaxCallsLimit is the most calls.max_calls allows.
	MaxCallsLimit    = 16
	MinNoAnswerAfter = time.Second
	MaxNoAnswerAfter = 10 * time.Minute
)

// Validate checks every field and returns all problems joined with
// errors.Join, each a *FieldError. For a Config that came from Parse or
// Load, the problems name the file and line of the field; for one built
// in code they name only the field.
func (c *Config) Validate() error {
	if ps := c.problems(); len(ps) > 0 {
		return joinProblems(ps)
	}
	return nil
}

type validator struct {
	src  *source
	errs []*FieldError
}

func (v *validator) fail(path, format string, args ...any) {
	v.failNear(path, path, format, args...)
}

// failNear reports a problem of path at the line of near: a missing
// field is best shown where the field that needs it is.
func (v *validator) failNear(path, near, format string, args ...any) {
	fe := &FieldError{Field: path, Problem: fmt.Sprintf(format, args...), Err: ErrInvalid}
	if v.src != nil {
		fe.File = v.src.fileOf(path)
		fe.Line = v.src.line(path)
		if _, ok := v.src.lines[path]; !ok {
			fe.File, fe.Line = v.src.fileOf(near), v.src.line(near)
		}
	}
	v.errs = append(v.errs, fe)
}

func (v *validator) oneOf(path, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		v.fail(path, "%q is not one of %s", val, strings.Join(allowed, ", "))
	}
}

// text checks a free-form string: a config file is UTF-8 text.
func (v *validator) text(path, s string) {
	if !utf8.ValidString(s) {
		v.fail(path, "%q is not valid UTF-8", s)
	}
}

func (v *validator) between(path string, val, lo, hi int) {
	if val < lo || val > hi {
		v.fail(path, "%d is out of range %d..%d", val, lo, hi)
	}
}

func (c *Config) problems() []*FieldError {
	v := &validator{src: c.src}

	seenAcct := map[string]int{}
	for i, a := range c.Accounts {
		p := fmt.Sprintf("accounts[%d]", i)
		v.account(p, a, c.SIP.RingTimeout)
		key := strings.ToLower(a.User + "@" + a.Domain)
		if j, dup := seenAcct[key]; dup && a.User != "" && a.Domain != "" {
			v.fail(p, "duplicate account %s (same as accounts[%d])", key, j)
		} else {
			seenAcct[key] = i
		}
	}

	if len(c.Codecs) == 0 {
		v.fail("codecs", "at least one codec is needed (%s)", strings.Join(CodecNames, ", "))
	}
	v.codecs("codecs", c.Codecs)
	v.oneOf("dtmf", c.DTMF, DTMFModes)
	v.between("dtmf_payload_type", c.DTMFPayloadType, 96, 127)
	if c.Ptime < 10*time.Millisecond || c.Ptime > 120*time.Millisecond || c.Ptime%(10*time.Millisecond) != 0 {
		v.fail("ptime", "%s is not a multiple of 10ms between 10ms and 120ms", c.Ptime)
	}

	v.ports(c.Ports)
	udpLines := 0
	for _, a := range c.Lines() {
		if a.Transport == "udp" {
			udpLines++
		}
	}
	if size := c.Ports.SIP.Size(); c.Ports.SIP.Min < c.Ports.SIP.Max && udpLines > size {
		// Each UDP line registers from its own SIP socket.
		v.fail("ports.sip", "range %s has %d ports; the %d enabled UDP accounts (lines) need one each", c.Ports.SIP, size, udpLines)
	}
	v.nat(c.NAT)
	v.audio(c.Audio)
	v.sampleRate(c.Board, c.Audio.SampleRate)

	dp := c.DialPlan
	if dp.Timeout < MinDialPause || dp.Timeout > MaxDialPause {
		v.fail("dial_plan.timeout", "%s is out of range %s..%s", dp.Timeout, MinDialPause, MaxDialPause)
	}
	if !slices.Contains(Terminators, dp.Terminator) {
		v.fail("dial_plan.terminator", "%q is not one of \"#\", \"*\" or \"\" (none)", dp.Terminator)
	}
	v.between("dial_plan.max_digits", dp.MaxDigits, 1, MaxDigitLimit)

	v.oneOf("board", c.Board, Boards)
	for k, val := range c.BoardOptions {
		if k == "" {
			v.fail("board_options", "empty option name")
		}
		v.text(join("board_options", k), k)
		v.text(join("board_options", k), val)
	}

	v.api(c.API)
	v.oneOf("log.level", c.Log.Level, LogLevels)
	v.oneOf("log.format", c.Log.Format, LogFormats)
	v.syslog(c.Log.Syslog)
	v.sip(c.SIP)
	v.between("calls.max_calls", c.Calls.MaxCalls, 1, MaxCallsLimit)
	v.storage(c.History, c.Phonebook)
	if h := c.Web.PasswordHash; h != "" && !bcryptHashRE.MatchString(h) {
		v.fail("web.password_hash", "is not a bcrypt hash ($2a$, $2b$ or $2y$, a cost 04..31, 53 characters of salt and hash); \"\" means no password")
	}
	if c.MemoryLimit != 0 && c.MemoryLimit < MinMemoryLimit {
		v.fail("memory_limit", "%d bytes is below the minimum of 16MiB (0 means the board's default)", c.MemoryLimit)
	}
	v.blf(c)
	v.provision(c.Provision, c.Firmware)
	return v.errs
}

// bcryptHashRE matches a bcrypt hash in the modular crypt format:
// $2b$10$ and 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
var bcryptHashRE = regexp.MustCompile(`^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$`)

// MaxHistorySize bounds history.size.
const MaxHistorySize = 10000

// storage checks the history and phonebook files: each a file name (not
// a directory), and not the same file.
func (v *validator) storage(h History, p Phonebook) {
	v.between("history.size", h.Size, 1, MaxHistorySize)
	for _, f := range []struct{ path, file string }{{"history.file", h.File}, {"phonebook.file", p.File}} {
		v.text(f.path, f.file)
		switch {
		case f.file == "":
		case strings.HasSuffix(f.file, "/") || filepath.Base(f.file) == "." || filepath.Base(f.file) == "..":
			v.fail(f.path, "%q names a directory, not a file", f.file)
		case strings.ContainsFunc(f.file, unicode.IsControl):
			v.fail(f.path, "%q holds control characters", f.file)
		}
	}
	if h.File != "" && filepath.Clean(h.File) == filepath.Clean(p.File) {
		v.fail("phonebook.file", "%q is also history.file", p.File)
	}
}

func (v *validator) sip(s SIP) {
	v.oneOf("sip.accept_from", s.AcceptFrom, AcceptFroms)
	for i, a := range s.Allow {
		if _, err := ParseAllow(a); err != nil {
			v.fail(fmt.Sprintf("sip.allow[%d]", i), "%q is not an IP address or CIDR prefix", a)
		}
	}
	if s.RingTimeout < MinRing || s.RingTimeout > MaxRing {
		v.fail("sip.ring_timeout", "%s is out of range %s..%s", s.RingTimeout, MinRing, MaxRing)
	}
	for i, d := range s.DNSServers {
		if !validDNSServer(d) {
			v.fail(fmt.Sprintf("sip.dns_servers[%d]", i), "%q is not an IP address or ip:port", d)
		}
	}
	if s.FailoverHold < MinFailoverHold || s.FailoverHold > MaxFailoverHold {
		v.fail("sip.failover_hold", "%s is out of range %s..%s", s.FailoverHold, MinFailoverHold, MaxFailoverHold)
	}
}

// TransportAuto is the transport value that lets the registrar's
// NAPTR/SRV records choose (RFC 3263).
const TransportAuto = "auto"

// Bounds of sip.failover_hold.
const (
	MinFailoverHold = 10 * time.Second
	MaxFailoverHold = time.Hour
)

// validDNSServer reports whether s is an IP address, or ip:port with
// the IPv6 address in brackets, without a zone.
func validDNSServer(s string) bool {
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return ip.Zone() == ""
	}
	ap, err := netip.ParseAddrPort(s)
	return err == nil && ap.Port() != 0 && ap.Addr().Zone() == ""
}

// sipHostIs6 reports whether a registrar or proxy address (host[:port]
// or a sip:/sips: URI) names an IPv6 literal.
func sipHostIs6(s string) bool {
	lower := strings.ToLower(s)
	for _, p := range []string{"sip:", "sips:"} {
		if strings.HasPrefix(lower, p) {
			s = s[len(p):]
			if i := strings.IndexAny(s, ";?"); i >= 0 {
				s = s[:i]
			}
			if i := strings.LastIndexByte(s, '@'); i >= 0 {
				s = s[i+1:]
			}
		}
	}
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().Is6()
}

// ParseAllow reads an item of sip.allow: an IP address (a prefix of one
// address) or a CIDR prefix, with its host bits cleared.
func ParseAllow(s string) (netip.Prefix, error) {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() {
		return p, fmt.Errorf("%q: IPv4-mapped prefix", s)
	}
	return p.Masked(), nil
}

func (v *validator) account(p string, a Account, ringTimeout time.Duration) {
	v.text(p+".user", a.User)
	v.text(p+".auth_user", a.AuthUser)
	v.text(p+".password", a.Password)
	v.text(p+".display_name", a.DisplayName)
	v.text(p+".tls_ca_file", a.TLSCAFile)
	v.clientCert(p, a)
	v.codecs(p+".codecs", a.Codecs)
	if a.User == "" {
		v.fail(p+".user", "required")
	} else if strings.ContainsAny(a.User, " \t\r\n@:<>\"") {
		v.fail(p+".user", "%q must not contain spaces, '@', ':', '<', '>' or quotes", a.User)
	}
	if strings.ContainsAny(a.AuthUser, "\r\n\"\\") {
		v.fail(p+".auth_user", "must not contain line breaks, quotes or backslashes")
	}
	if strings.ContainsAny(a.Password, "\r\n") {
		v.fail(p+".password", "must not contain line breaks")
	}
	if strings.ContainsAny(a.DisplayName, "\r\n\"\\") {
		v.fail(p+".display_name", "must not contain line breaks, quotes or backslashes")
	}
	if a.Domain == "" {
		v.fail(p+".domain", "required")
	} else if !validHost(a.Domain) {
		v.fail(p+".domain", "%q is not a host name or IP address (put a port in registrar, not here)", a.Domain)
	}
	if a.Registrar != "" {
		if err := checkSIPAddr(a.Registrar); err != nil {
			v.fail(p+".registrar", "%q: %v", a.Registrar, err)
		} else if why := sipHost6Problem(a.Registrar); why != "" {
			v.fail(p+".registrar", "%q: %s", a.Registrar, why)
		}
	}
	if a.OutboundProxy != "" {
		if err := checkSIPAddr(a.OutboundProxy); err != nil {
			v.fail(p+".outbound_proxy", "%q: %v", a.OutboundProxy, err)
		} else if why := sipHost6Problem(a.OutboundProxy); why != "" {
			v.fail(p+".outbound_proxy", "%q: %s", a.OutboundProxy, why)
		}
	}
	if a.Transport != TransportAuto {
		v.oneOf(p+".transport", a.Transport, Transports)
	}
	if a.SRTP != "" { // "" is off, as in a Config built in code
		v.oneOf(p+".srtp", a.SRTP, SRTPPolicies)
	}
	if a.SRTPKeying != "" {
		v.oneOf(p+".srtp_keying", a.SRTPKeying, SRTPKeyings)
	}
	v.srtpSuites(p+".srtp_suites", a.SRTPSuites) // srtpsuites.go
	if a.SRTP != "off" && slices.Contains(SRTPPolicies, a.SRTP) && a.SRTPKeying != "dtls" && a.Transport != "tls" && !a.SRTPOverInsecure {
		v.fail(p+".srtp", "%s needs transport tls: SDES keys travel in the SDP, in the clear over %s (set srtp_over_insecure: true to allow it)", a.SRTP, a.Transport)
	}
	switch {
	case a.Expires < MinExpires:
		v.fail(p+".expires", "%s is shorter than the minimum of %s", a.Expires, MinExpires)
	case a.Expires%time.Second != 0:
		v.fail(p+".expires", "%s is not a whole number of seconds", a.Expires)
	case a.Expires > (1<<32-1)*time.Second:
		v.fail(p+".expires", "%s is longer than the maximum of %ds", a.Expires, uint32(1<<32-1))
	}
	if !slices.Contains(DNDCodes, a.DNDCode) {
		v.fail(p+".dnd_code", "%d is not one of 486 (Busy Here), 480 (Temporarily Unavailable)", a.DNDCode)
	}
	for _, f := range []struct{ key, val string }{
		{"forward_always", a.ForwardAlways}, {"forward_busy", a.ForwardBusy},
		{"forward_no_answer", a.ForwardNoAnswer}, {"mailbox", a.Mailbox},
	} {
		if f.val == "" {
			continue
		}
		if err := checkTarget(f.val); err != nil {
			v.fail(p+"."+f.key, "%q: %v", f.val, err)
		}
	}
	after := p + ".forward_no_answer_after"
	switch {
	case a.ForwardNoAnswerAfter < MinNoAnswerAfter || a.ForwardNoAnswerAfter > MaxNoAnswerAfter:
		v.fail(after, "%s is out of range %s..%s", a.ForwardNoAnswerAfter, MinNoAnswerAfter, MaxNoAnswerAfter)
	case a.ForwardNoAnswer != "" && a.ForwardNoAnswerAfter >= ringTimeout:
		// The unanswered call would end 480 before it is forwarded.
		v.failNear(after, p+".forward_no_answer", "%s must be shorter than sip.ring_timeout %s", a.ForwardNoAnswerAfter, ringTimeout)
	}
}

// checkTarget checks a call-forward or voicemail target as the phone
// dials it: a number or user (at the line's domain), user@host, or a
// sip:, sips: or tel: URI.
func checkTarget(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if strings.ContainsAny(s, " \t\r\n<>\"") || strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("must not contain spaces, line breaks, '<', '>' or quotes")
	}
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sip:") || strings.HasPrefix(lower, "sips:"):
		if i := strings.IndexByte(s, '@'); i < 0 || i == strings.IndexByte(s, ':')+1 {
			return fmt.Errorf("a SIP URI target needs a user part (sip:user@host)")
		}
		return checkSIPAddr(s)
	case strings.HasPrefix(lower, "tel:"):
		if len(s) == len("tel:") {
			return fmt.Errorf("tel: URI has no number")
		}
		return nil
	case strings.Contains(s, "://"):
		return fmt.Errorf("only a number, user, user@host or a sip:/sips:/tel: URI")
	case strings.Contains(s, "@"):
		user, _, _ := strings.Cut(s, "@")
		if user == "" {
			return fmt.Errorf("no user before '@'")
		}
		return checkSIPAddr("sip:" + s)
	}
	if strings.ContainsAny(s, ":;?") {
		return fmt.Errorf("only a number, user, user@host or a sip:/sips:/tel: URI")
	}
	return nil
}

func (v *validator) ports(ps Ports) {
	// The same rules as portmgr.ValidateRanges (the port manager checks
	// again when it starts), checked field by field so that each problem
	// names its line. TestPortsAgreeWithPortmgr keeps the two the same.
	before := len(v.errs)
	check := func(name string, r PortRange, least int) {
		p := "ports." + name
		if r.Min < 1024 {
			v.fail(p+".min", "%d is below 1024 (reserved ports)", r.Min)
		}
		if r.Min >= r.Max {
			v.fail(p+".max", "max %d must be greater than min %d", r.Max, r.Min)
		} else if r.Size() < least {
			v.fail(p, "range %s has %d ports; at least %d are needed", r, r.Size(), least)
		}
	}
	check("sip", ps.SIP, 2)
	check("media", ps.Media, 4)
	if len(v.errs) == before && ps.SIP.Min <= ps.Media.Max && ps.Media.Min <= ps.SIP.Max {
		v.fail("ports.media", "range %s overlaps the sip range %s", ps.Media, ps.SIP)
	}
}

func (v *validator) nat(n NAT) {
	for i, s := range n.STUNServers {
		if err := checkHostPort(s, true); err != nil {
			v.fail(fmt.Sprintf("nat.stun_servers[%d]", i), "%q: %v", s, err)
		}
	}
	t := n.TURN
	v.text("nat.turn.username", t.Username)
	v.text("nat.turn.password", t.Password)
	if t.Server != "" {
		if err := checkHostPort(t.Server, true); err != nil {
			v.fail("nat.turn.server", "%q: %v", t.Server, err)
		} else if why := turnHost6Problem(t.Server); why != "" {
			v.fail("nat.turn.server", "%q: %s", t.Server, why)
		}
		if t.Username == "" {
			v.failNear("nat.turn.username", "nat.turn.server", "required when nat.turn.server is set")
		}
		if t.Password == "" {
			v.failNear("nat.turn.password", "nat.turn.server", "required when nat.turn.server is set")
		}
	} else if t.Username != "" || t.Password != "" {
		v.failNear("nat.turn.server", "nat.turn", "required when a TURN username or password is set")
	}
	for i, s := range t.Fallbacks {
		if err := checkHostPort(s, true); err != nil {
			v.fail(fmt.Sprintf("nat.turn.fallbacks[%d]", i), "%q: %v", s, err)
		} else if why := turnHost6Problem(s); why != "" {
			v.fail(fmt.Sprintf("nat.turn.fallbacks[%d]", i), "%q: %s", s, why)
		}
	}
	switch t.Transport {
	case "", "udp", "tcp", "tls":
	default:
		v.fail("nat.turn.transport", "%q: want udp, tcp or tls", t.Transport)
	}
	v.turnCA(t) // turnca.go
	if len(t.Fallbacks) > 0 && t.Server == "" {
		v.failNear("nat.turn.server", "nat.turn.fallbacks", "required when nat.turn.fallbacks is set")
	}
	if n.StaticExternal != "" {
		ip, err := netip.ParseAddr(n.StaticExternal)
		switch {
		case err != nil || ip.Zone() != "":
			v.fail("nat.static_external", "%q is not an IP address", n.StaticExternal)
		case ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip.IsLinkLocalUnicast():
			v.fail("nat.static_external", "%s cannot be an external address", ip)
		}
	}
	for i, s := range n.Strategies {
		p := fmt.Sprintf("nat.strategies[%d]", i)
		if !slices.Contains(Strategies, s) {
			v.fail(p, "%q is not one of %s", s, strings.Join(Strategies, ", "))
		} else if slices.Index(n.Strategies, s) < i {
			v.fail(p, "%q is listed twice", s)
		}
	}
	if n.Keepalive < MinKeepalive {
		v.fail("nat.keepalive", "%s is shorter than the minimum of %s", n.Keepalive, MinKeepalive)
	}
	if n.BindingLifetime < 0 {
		v.fail("nat.binding_lifetime", "%s is negative (0 means measure)", n.BindingLifetime)
	} else if n.BindingLifetime > 0 && n.Keepalive >= n.BindingLifetime {
		v.fail("nat.keepalive", "%s must be shorter than nat.binding_lifetime %s", n.Keepalive, n.BindingLifetime)
	}
	switch {
	case n.ChangeCheck < 0:
		v.fail("nat.change_check", "%s is negative (0 checks at the keepalive interval only)", n.ChangeCheck)
	case n.ChangeCheck > 0 && n.ChangeCheck < MinKeepalive:
		v.fail("nat.change_check", "%s is shorter than the minimum of %s", n.ChangeCheck, MinKeepalive)
	}
	switch {
	case n.MediaTimeout < 0:
		v.fail("nat.media_timeout", "%s is negative (0 turns the rule off)", n.MediaTimeout)
	case n.MediaTimeout > 0 && n.MediaTimeout < 300*time.Millisecond:
		v.fail("nat.media_timeout", "%s is shorter than the minimum of 300ms", n.MediaTimeout)
	}
}

func (v *validator) audio(a Audio) {
	v.text("audio.input", a.Input)
	v.text("audio.output", a.Output)
	// What audio.input and audio.output may say depends on the board
	// (and the build): CheckBoard checks them against the board's Spec.
	v.between("audio.volume", a.Volume, 0, 100)
	v.between("audio.mic_gain", a.MicGain, 0, 100)
	v.oneOf("audio.tones", a.Tones, ToneCountries)
}

func (v *validator) api(a API) {
	v.text("api.token", a.Token)
	if n := utf8.RuneCountInString(a.Token); a.Token != "" && n < MinTokenLength {
		v.fail("api.token", "%d characters is too short to guess at: at least %d (a random string, e.g. `openssl rand -hex 16`)", n, MinTokenLength)
	}
	if a.Listen == "" {
		return // API off
	}
	host, port, err := net.SplitHostPort(a.Listen)
	if err != nil {
		v.fail("api.listen", "%q is not host:port", a.Listen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.fail("api.listen", "%q: port must be 0..65535 (0 picks a free port)", a.Listen)
		return
	}
	loopback := false
	switch {
	case host == "":
		// All interfaces.
	case host == "localhost":
		loopback = true
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil {
			v.fail("api.listen", "%q: host must be an IP address, localhost or empty (all interfaces)", a.Listen)
			return
		}
		loopback = ip.Unmap().IsLoopback()
	}
	if !loopback && a.Token == "" {
		v.failNear("api.token", "api.listen", "required when api.listen (%s) is not a loopback address", a.Listen)
	}
}

// validHost reports whether h is an IP address or a DNS host name.
func validHost(h string) bool {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Zone() == ""
	}
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// checkHostPort checks host[:port] (IPv6 in brackets when a port
// follows); needPort makes the port mandatory.
func checkHostPort(s string, needPort bool) error {
	host, port := s, ""
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1] // bracketed IPv6, no port
		if ip, err := netip.ParseAddr(s); err != nil || !ip.Is6() {
			return fmt.Errorf("%q is not an IPv6 address", s)
		}
		return checkHostPort(s, needPort)
	}
	if ip, err := netip.ParseAddr(s); err == nil && strings.Contains(s, ":") {
		host = ip.String() // bare IPv6, no port
	} else if strings.Contains(s, ":") {
		var err error
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			return fmt.Errorf("not host:port")
		}
	}
	if !validHost(host) {
		return fmt.Errorf("%q is not a host name or IP address", host)
	}
	if port == "" {
		if needPort {
			return fmt.Errorf("missing port (host:port)")
		}
		return nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q must be 1..65535", port)
	}
	return nil
}

// checkSIPAddr checks host[:port] or a sip:/sips: URI (RFC 3261 section
// 19.1) with optional user part, parameters and headers.
func checkSIPAddr(s string) error {
	rest := s
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "sip:"):
		rest = s[len("sip:"):]
	case strings.HasPrefix(lower, "sips:"):
		rest = s[len("sips:"):]
	case strings.Contains(lower, "://") || strings.HasPrefix(lower, "tel:"):
		return fmt.Errorf("only host[:port] or a sip:/sips: URI")
	default:
		return checkHostPort(s, false)
	}
	if i := strings.IndexAny(rest, ";?"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if rest == "" {
		return fmt.Errorf("URI has no host")
	}
	return checkHostPort(rest, false)
}

// codecs checks a codec preference list: known names, none twice.
func (v *validator) codecs(path string, list []string) { v.names(path, list, CodecNames) }

// names checks a preference list of names: each one of known, none twice.
func (v *validator) names(path string, list, known []string) {
	for i, name := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		if !slices.Contains(known, name) {
			v.fail(p, "%q is not one of %s", name, strings.Join(known, ", "))
		} else if slices.Index(list, name) < i {
			v.fail(p, "%q is listed twice", name)
		}
	}
}

// LineCodecs is the codec preference of account a: its own list, or the
// config's.
func (c *Config) LineCodecs(a Account) []string {
	if len(a.Codecs) > 0 {
		return a.Codecs
	}
	return c.Codecs
}
