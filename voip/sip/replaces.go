package sip

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	siplib "github.com/emiago/sipgo/sip"
)

// errReplaces, errReferTo and errSipfrag are the causes of the parse
// errors below; each is answered 400 Bad Request.
var (
	errReplaces = errors.New("bad Replaces")
	errReferTo  = errors.New("bad Refer-To")
	errSipfrag  = errors.New("bad message/sipfrag")
)

// replaces is a Replaces header (RFC 3891 §6.1):
//
//	Replaces        = "Replaces" HCOLON callid *(SEMI replaces-param)
//	replaces-param  = to-tag / from-tag / early-flag / generic-param
//	to-tag          = "to-tag" EQUAL token
//	from-tag        = "from-tag" EQUAL token
//	early-flag      = "early-only"
//
// The tags are seen from the recipient: to-tag is its local tag and
// from-tag the remote one (§3).
type replaces struct {
	callID, toTag, fromTag string
	earlyOnly              bool
}

// parseReplaces parses a Replaces header value: a Call-ID, exactly one
// to-tag and one from-tag; other parameters are ignored.
func parseReplaces(v string) (replaces, error) {
	var r replaces
	if !utf8.ValidString(v) {
		return r, fmt.Errorf("%w: not UTF-8", errReplaces)
	}
	parts := strings.Split(v, ";")
	r.callID = strings.Trim(parts[0], " \t")
	if !validCallID(r.callID) {
		return r, fmt.Errorf("%w: Call-ID %q", errReplaces, r.callID)
	}
	haveTo, haveFrom := false, false
	for _, p := range parts[1:] {
		k, val, hasVal := strings.Cut(strings.Trim(p, " \t"), "=")
		k, val = strings.ToLower(strings.Trim(k, " \t")), strings.Trim(val, " \t")
		switch k {
		case "to-tag", "from-tag":
			if !hasVal || !isToken(val) {
				return r, fmt.Errorf("%w: %s %q", errReplaces, k, val)
			}
			if k == "to-tag" {
				if haveTo {
					return r, fmt.Errorf("%w: two to-tags", errReplaces)
				}
				r.toTag, haveTo = val, true
			} else {
				if haveFrom {
					return r, fmt.Errorf("%w: two from-tags", errReplaces)
				}
				r.fromTag, haveFrom = val, true
			}
		case "early-only":
			if hasVal {
				return r, fmt.Errorf("%w: early-only with a value", errReplaces)
			}
			r.earlyOnly = true
		case "":
			return r, fmt.Errorf("%w: empty parameter", errReplaces)
		default:
			if !isToken(k) {
				return r, fmt.Errorf("%w: parameter %q", errReplaces, k)
			}
		}
	}
	if !haveTo || !haveFrom {
		return r, fmt.Errorf("%w: to-tag and from-tag are required", errReplaces)
	}
	return r, nil
}

// String is the header value.
func (r replaces) String() string {
	s := r.callID + ";to-tag=" + r.toTag + ";from-tag=" + r.fromTag
	if r.earlyOnly {
		s += ";early-only"
	}
	return s
}

// validCallID checks callid = word [ "@" word ] (RFC 3261 §25.1).
func validCallID(s string) bool {
	if s == "" {
		return false
	}
	words := strings.Split(s, "@")
	if len(words) > 2 {
		return false
	}
	for _, w := range words {
		if w == "" {
			return false
		}
		for i := 0; i < len(w); i++ {
			if !isWordChar(w[i]) {
				return false
			}
		}
	}
	return true
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-.!%*_+`'~()<>:\\\"/[]?{}", c) >= 0
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return true
}

// escapeHeaderValue escapes a URI header value (RFC 3261 §25.1: hvalue =
// *( hnv-unreserved / unreserved / escaped )), so that ';', '=', '@' and
// '%' of a Replaces value survive inside a Refer-To URI (RFC 5589 §7).
func escapeHeaderValue(s string) string {
	const keep = "-_.!~*'()[]/?:+$"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// referTo is a parsed Refer-To (RFC 3515 §2.1): the target to call and,
// when the URI carried one, the Replaces header to put in the INVITE.
type referTo struct {
	target   siplib.Uri
	uri      string // the URI as written, without its headers
	replaces *replaces
}

// parseReferTo parses a Refer-To value: one name-addr or addr-spec whose
// URI is sip, sips or tel; of the URI's headers (after '?') only
// Replaces is used, and it must parse.
func parseReferTo(v string) (referTo, error) {
	var rt referTo
	na, err := parseNameAddr(v)
	if err != nil {
		return rt, fmt.Errorf("%w: %w", errReferTo, err)
	}
	u, headers, err := dialable(na.URI)
	if err != nil {
		return rt, fmt.Errorf("%w: %w", errReferTo, err)
	}
	rt.target = u
	rt.uri, _, _ = strings.Cut(na.URI, "?")
	if headers == "" {
		return rt, nil
	}
	for _, h := range strings.Split(headers, "&") {
		name, val, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return rt, fmt.Errorf("%w: URI header %q", errReferTo, h)
		}
		if !strings.EqualFold(name, "Replaces") {
			continue
		}
		if rt.replaces != nil {
			return rt, fmt.Errorf("%w: two Replaces", errReferTo)
		}
		dec, err := url.PathUnescape(val)
		if err != nil {
			return rt, fmt.Errorf("%w: Replaces escape: %w", errReferTo, err)
		}
		r, err := parseReplaces(dec)
		if err != nil {
			return rt, fmt.Errorf("%w: %w", errReferTo, err)
		}
		rt.replaces = &r
	}
	return rt, nil
}

// sipfrag is the status line of a message/sipfrag body (RFC 3420) in a
// NOTIFY for a refer subscription (RFC 3515 §2.4.5).
type sipfrag struct {
	code   int
	reason string
}

// parseSipfrag reads the first line of the body, which must be a SIP
// status line: "SIP/2.0" SP 3DIGIT SP Reason-Phrase (RFC 3261 §7.2).
func parseSipfrag(body []byte) (sipfrag, error) {
	var f sipfrag
	line, _, _ := strings.Cut(string(body), "\n")
	line = strings.TrimSuffix(line, "\r")
	if !utf8.ValidString(line) {
		return f, fmt.Errorf("%w: not UTF-8", errSipfrag)
	}
	rest, ok := strings.CutPrefix(line, "SIP/2.0 ")
	if !ok {
		return f, fmt.Errorf("%w: no status line", errSipfrag)
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 {
		return f, fmt.Errorf("%w: status %q", errSipfrag, code)
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 699 {
		return f, fmt.Errorf("%w: status %q", errSipfrag, code)
	}
	for _, r := range reason {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return f, fmt.Errorf("%w: control character in reason", errSipfrag)
		}
	}
	f.code, f.reason = n, strings.TrimSpace(reason)
	return f, nil
}

// String is the body: the status line and CRLF.
func (f sipfrag) String() string { return fmt.Sprintf("SIP/2.0 %d %s\r\n", f.code, f.reason) }
