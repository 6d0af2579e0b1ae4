package digest

import (
	"fmt"
	"strings"
)

// param is one auth-param of a challenge or credentials (RFC 7235 §2.1):
//
//	auth-param = token BWS "=" BWS ( token / quoted-string )
type param struct {
	name   string // lower-cased
	value  string // unquoted, escapes resolved
	quoted bool
}

// splitScheme returns the auth-scheme and the rest of a header value. The
// scheme is compared case-insensitively (RFC 7235 §2.1); only Digest is
// accepted.
func splitScheme(v string) (string, error) {
	v = strings.TrimLeft(v, " \t\r\n")
	i := strings.IndexAny(v, " \t\r\n")
	scheme, rest := v, ""
	if i >= 0 {
		scheme, rest = v[:i], v[i:]
	}
	if !strings.EqualFold(scheme, "Digest") {
		if scheme == "" {
			return "", fmt.Errorf("%w: empty value", ErrSyntax)
		}
		return "", fmt.Errorf("%w: scheme %q", ErrNotDigest, truncate(scheme))
	}
	return rest, nil
}

// parseParams tokenizes a comma-separated auth-param list. Quoted strings
// may contain commas and backslash escapes (RFC 7230 §3.2.6 quoted-pair).
// Unquoted values run to the next comma or whitespace, which tolerates
// servers that send unquoted nonces with characters outside token.
// Empty list elements (",,") are skipped, as RFC 7230 §7 asks. A
// parameter name that appears twice is an error (RFC 7235 §2.1).
func parseParams(s string) ([]param, error) {
	var out []param
	seen := make(map[string]bool)
	i := 0
	n := len(s)
	skipWS := func() {
		for i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n') {
			i++
		}
	}
	for {
		skipWS()
		for i < n && s[i] == ',' {
			i++
			skipWS()
		}
		if i >= n {
			break
		}
		start := i
		for i < n && isTokenChar(s[i]) {
			i++
		}
		if i == start {
			return nil, fmt.Errorf("%w: unexpected %q at offset %d", ErrSyntax, s[i], i)
		}
		name := strings.ToLower(s[start:i])
		skipWS()
		if i >= n || s[i] != '=' {
			return nil, fmt.Errorf("%w: parameter %q has no value", ErrSyntax, truncate(name))
		}
		i++
		skipWS()
		p := param{name: name}
		if i < n && s[i] == '"' {
			i++
			var b strings.Builder
			closed := false
			for i < n {
				c := s[i]
				if c == '\\' && i+1 < n {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '"' {
					i++
					closed = true
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted string in %q", ErrSyntax, truncate(name))
			}
			p.value, p.quoted = b.String(), true
		} else {
			start := i
			for i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '"' {
				i++
			}
			p.value = s[start:i]
		}
		skipWS()
		if i < n && s[i] != ',' {
			return nil, fmt.Errorf("%w: expected ',' after %q", ErrSyntax, truncate(name))
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: duplicate parameter %q", ErrSyntax, truncate(name))
		}
		seen[name] = true
		out = append(out, p)
	}
	return out, nil
}

// isTokenChar reports whether c is a tchar (RFC 7230 §3.2.6).
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quote returns s as a quoted-string, escaping '"' and '\'.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// truncate shortens attacker-controlled text before it goes into an error.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
