package sip

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	siplib "github.com/emiago/sipgo/sip"
)

// errNameAddr is the cause of every name-addr parse error.
var errNameAddr = errors.New("bad name-addr")

// nameAddr is one value of a From, To, P-Asserted-Identity, Refer-To or
// Referred-By header (RFC 3261 §25.1):
//
//	( name-addr / addr-spec ) *( SEMI generic-param )
//	name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//	display-name = *( token LWS ) / quoted-string
//
// Name is the display name with its quotes removed and its quoted-pairs
// undone; URI is the addr-spec as written (percent escapes kept); Params
// is what follows the URI, from its first ';', as written.
type nameAddr struct {
	Name   string
	URI    string
	Params string
}

// parseNameAddrs splits a comma-separated header value (commas inside a
// quoted string or between < and > do not separate) and parses each.
func parseNameAddrs(v string) ([]nameAddr, error) {
	var out []nameAddr
	start, inQuote, inAngle, escaped := 0, false, false, false
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case escaped:
			escaped = false
		case inQuote && ch == '\\':
			escaped = true
		case ch == '"' && !inAngle:
			inQuote = !inQuote
		case inQuote:
		case ch == '<':
			inAngle = true
		case ch == '>':
			inAngle = false
		case ch == ',' && !inAngle:
			na, err := parseNameAddr(v[start:i])
			if err != nil {
				return nil, err
			}
			out = append(out, na)
			start = i + 1
		}
	}
	na, err := parseNameAddr(v[start:])
	if err != nil {
		return nil, err
	}
	return append(out, na), nil
}

// parseNameAddr parses one name-addr or addr-spec with its parameters.
func parseNameAddr(v string) (nameAddr, error) {
	var na nameAddr
	if !utf8.ValidString(v) {
		return na, fmt.Errorf("%w: not UTF-8", errNameAddr)
	}
	s := strings.Trim(v, " \t\r\n")
	switch {
	case strings.HasPrefix(s, `"`):
		name, rest, err := unquote(s)
		if err != nil {
			return na, err
		}
		rest = strings.TrimLeft(rest, " \t\r\n")
		if !strings.HasPrefix(rest, "<") {
			return na, fmt.Errorf("%w: display name without <URI>", errNameAddr)
		}
		na.Name = name
		s = rest
	case strings.Contains(s, "<"):
		i := strings.IndexByte(s, '<')
		name := strings.Trim(s[:i], " \t")
		for _, r := range name {
			if r < 0x20 && r != '\t' || r == 0x7f || r == '"' || r == '>' {
				return na, fmt.Errorf("%w: bad character %q in display name", errNameAddr, r)
			}
		}
		na.Name = strings.Join(strings.Fields(name), " ")
		s = s[i:]
	default:
		// addr-spec: the URI ends at the first ';' (RFC 3261 §20.10: the
		// parameters after it are header parameters), and may contain
		// neither ',' nor '?'.
		uri, params, _ := strings.Cut(s, ";")
		uri = strings.TrimRight(uri, " \t")
		if uri == "" || strings.ContainsAny(uri, " \t<>\",?") {
			return na, fmt.Errorf("%w: bad addr-spec %q", errNameAddr, uri)
		}
		na.URI = uri
		if params != "" || strings.HasSuffix(s, ";") {
			na.Params = ";" + params
		}
		return na, checkScheme(na.URI)
	}
	// s starts with '<'.
	end := strings.IndexByte(s, '>')
	if end < 0 {
		return na, fmt.Errorf("%w: missing >", errNameAddr)
	}
	na.URI = s[1:end]
	if na.URI == "" || strings.ContainsAny(na.URI, " \t\r\n<\"") {
		return na, fmt.Errorf("%w: bad URI %q", errNameAddr, na.URI)
	}
	rest := strings.Trim(s[end+1:], " \t")
	if rest != "" && rest[0] != ';' {
		return na, fmt.Errorf("%w: text after >", errNameAddr)
	}
	na.Params = rest
	return na, checkScheme(na.URI)
}

// unquote reads a quoted-string at the start of s (RFC 3261 §25.1:
// quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F), of which we take
// the printable ones and HTAB) and returns its content and the rest of s.
func unquote(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"':
			return b.String(), s[i+1:], nil
		case ch == '\\':
			// Control characters, which RFC 3261 lets a quoted-pair
			// carry, have no place in a name shown to the user.
			if i+1 >= len(s) || s[i+1] > 0x7f || s[i+1] < 0x20 && s[i+1] != '\t' || s[i+1] == 0x7f {
				return "", "", fmt.Errorf("%w: bad quoted-pair", errNameAddr)
			}
			i++
			b.WriteByte(s[i])
		case ch < 0x20 && ch != '\t' || ch == 0x7f:
			return "", "", fmt.Errorf("%w: control character in quoted string", errNameAddr)
		default:
			b.WriteByte(ch)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", errNameAddr)
}

// quote is the inverse of unquote: a quoted-string for a display name.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			// Not representable (CR, LF); dropped.
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wireName is a display name as sipgo writes it between quotes: the
// content of a quoted-string, with '"' and '\\' escaped.
func wireName(s string) string {
	q := quote(s)
	return q[1 : len(q)-1]
}

// checkScheme requires a URI scheme (RFC 3986 §3.1) followed by ':'.
func checkScheme(uri string) error {
	i := strings.IndexByte(uri, ':')
	if i <= 0 {
		return fmt.Errorf("%w: URI %q has no scheme", errNameAddr, uri)
	}
	for j, r := range uri[:i] {
		alpha := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !alpha && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return fmt.Errorf("%w: URI %q has a bad scheme", errNameAddr, uri)
		}
	}
	return nil
}

// scheme is the lower-case scheme of a URI that passed checkScheme.
func scheme(uri string) string {
	s, _, _ := strings.Cut(uri, ":")
	return strings.ToLower(s)
}

// dialable parses a sip, sips or tel URI into a request target; the URI
// headers (after '?') are returned apart, still escaped. Other schemes,
// and sip URIs without a host, are errors.
func dialable(uri string) (siplib.Uri, string, error) {
	var u siplib.Uri
	base, headers, _ := strings.Cut(uri, "?")
	switch scheme(base) {
	case "sip", "sips":
		if err := siplib.ParseUri(base, &u); err != nil {
			return u, "", fmt.Errorf("%w: %q: %w", errNameAddr, base, err)
		}
		if u.Host == "" || strings.ContainsAny(u.Host, " \t/\\") {
			return u, "", fmt.Errorf("%w: %q has no host", errNameAddr, base)
		}
		if u.Port < 0 || u.Port > 65535 {
			return u, "", fmt.Errorf("%w: %q: bad port", errNameAddr, base)
		}
		u.Headers = nil
	case "tel":
		if telNumber(base) == "" {
			return u, "", fmt.Errorf("%w: %q is no telephone number", errNameAddr, base)
		}
		if err := siplib.ParseUri(base, &u); err != nil {
			return u, "", fmt.Errorf("%w: %q: %w", errNameAddr, base, err)
		}
	default:
		return u, "", fmt.Errorf("%w: scheme of %q is not sip, sips or tel", errNameAddr, base)
	}
	return u, headers, nil
}

// telNumber is the number of a tel URI (RFC 3966 §3: digits, '+', the
// visual separators and *#), without its parameters; empty when it is
// not one.
func telNumber(uri string) string {
	_, rest, _ := strings.Cut(uri, ":")
	num, _, _ := strings.Cut(rest, ";")
	digits := 0
	for i, r := range num {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == '-', r == '.', r == '(', r == ')', r == '*', r == '#',
			r >= 'A' && r <= 'F', r >= 'a' && r <= 'f':
		default:
			return ""
		}
	}
	if digits == 0 {
		return ""
	}
	return num
}

// uriNumber is the user part of a sip/sips URI (percent escapes undone,
// user parameters such as ";npdi" dropped) or the number of a tel URI;
// empty for other URIs.
func uriNumber(uri string) string {
	switch scheme(uri) {
	case "tel":
		return telNumber(uri)
	case "sip", "sips":
		_, rest, _ := strings.Cut(uri, ":")
		at := strings.LastIndexByte(rest, '@')
		if q := strings.IndexAny(rest, "?"); q >= 0 && q < at {
			return ""
		}
		if at < 0 {
			return ""
		}
		user := rest[:at]
		user, _, _ = strings.Cut(user, ":") // a password
		user, _, _ = strings.Cut(user, ";")
		if u, err := url.PathUnescape(user); err == nil && utf8.ValidString(u) {
			user = u
		}
		return user
	}
	return ""
}
