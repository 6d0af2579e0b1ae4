package digest

import (
	"crypto/subtle"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Authorization is a parsed Authorization or Proxy-Authorization value:
// the client's credentials for one request (RFC 7616 §3.4, RFC 3261
// §22.4).
type Authorization struct {
	// Username is the user name as sent; with Userhash it is the hex
	// H(username ":" realm).
	Username string
	Realm    string
	Nonce    string
	// URI is the digest-uri, the Request-URI of the request.
	URI      string
	Response string
	// Algorithm is the canonical name, or "" when absent (MD5).
	Algorithm string
	Cnonce    string
	Opaque    string
	// QOP is "auth", "auth-int", or "" for the RFC 2069 form.
	QOP string
	// NC is the nonce count; 0 when QOP is empty.
	NC       uint32
	Userhash bool
}

// ParseAuthorization parses an Authorization or Proxy-Authorization header
// value. It checks the syntax only; use Verify to check the response.
// username, realm, nonce, uri and response are required, and cnonce and
// nc when qop is present. The RFC 7616 §3.4.4 username* form with the
// UTF-8 charset is accepted and decoded into Username.
func ParseAuthorization(v string) (*Authorization, error) {
	rest, err := splitScheme(v)
	if err != nil {
		return nil, err
	}
	params, err := parseParams(rest)
	if err != nil {
		return nil, err
	}
	a := &Authorization{}
	have := make(map[string]bool, len(params))
	for _, p := range params {
		have[p.name] = true
		switch p.name {
		case "username":
			a.Username = p.value
		case "username*":
			u, err := decodeExtValue(p.value)
			if err != nil {
				return nil, err
			}
			a.Username = u
		case "realm":
			a.Realm = p.value
		case "nonce":
			a.Nonce = p.value
		case "uri":
			a.URI = p.value
		case "response":
			a.Response = p.value
		case "algorithm":
			a.Algorithm = p.value
		case "cnonce":
			a.Cnonce = p.value
		case "opaque":
			a.Opaque = p.value
		case "qop":
			a.QOP = strings.ToLower(p.value)
		case "nc":
			if len(p.value) == 0 || len(p.value) > 8 {
				return nil, fmt.Errorf("%w: nc %q", ErrSyntax, truncate(p.value))
			}
			n, err := strconv.ParseUint(p.value, 16, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: nc %q", ErrSyntax, truncate(p.value))
			}
			a.NC = uint32(n)
		case "userhash":
			a.Userhash = strings.EqualFold(p.value, "true")
		}
	}
	if have["username"] && have["username*"] {
		return nil, fmt.Errorf("%w: both username and username*", ErrSyntax)
	}
	for _, req := range []string{"realm", "nonce", "uri", "response"} {
		if !have[req] {
			return nil, fmt.Errorf("%w: %s", ErrMissingParam, req)
		}
	}
	if !have["username"] && !have["username*"] {
		return nil, fmt.Errorf("%w: username", ErrMissingParam)
	}
	if a.QOP != "" {
		if !have["cnonce"] {
			return nil, fmt.Errorf("%w: cnonce", ErrMissingParam)
		}
		if !have["nc"] {
			return nil, fmt.Errorf("%w: nc", ErrMissingParam)
		}
	}
	if !isHex(a.Response) || len(a.Response) < 32 {
		return nil, fmt.Errorf("%w: response is not a hex digest", ErrSyntax)
	}
	a.Algorithm = canonicalAlgorithm(a.Algorithm)
	return a, nil
}

// decodeExtValue decodes an RFC 5987 ext-value: charset "'" [language]
// "'" value-chars. Only UTF-8 is accepted (RFC 7616 §3.4.4).
func decodeExtValue(v string) (string, error) {
	charset, rest, ok := strings.Cut(v, "'")
	if !ok || !strings.EqualFold(charset, "UTF-8") {
		return "", fmt.Errorf("%w: username* %q", ErrSyntax, truncate(v))
	}
	_, enc, ok := strings.Cut(rest, "'")
	if !ok {
		return "", fmt.Errorf("%w: username* %q", ErrSyntax, truncate(v))
	}
	s, err := url.PathUnescape(enc)
	if err != nil {
		return "", fmt.Errorf("%w: username*: %v", ErrSyntax, err)
	}
	return s, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// String formats the credentials as a header value. uri is always quoted
// (RFC 8760 §2.6); algorithm, qop and nc are unquoted (RFC 7616 §3.4).
func (a *Authorization) String() string {
	var b strings.Builder
	b.WriteString("Digest username=")
	b.WriteString(quote(a.Username))
	b.WriteString(", realm=")
	b.WriteString(quote(a.Realm))
	b.WriteString(", nonce=")
	b.WriteString(quote(a.Nonce))
	b.WriteString(", uri=")
	b.WriteString(quote(a.URI))
	b.WriteString(", response=")
	b.WriteString(quote(a.Response))
	if a.Algorithm != "" {
		b.WriteString(", algorithm=")
		b.WriteString(a.Algorithm)
	}
	if a.Cnonce != "" || a.QOP != "" {
		b.WriteString(", cnonce=")
		b.WriteString(quote(a.Cnonce))
	}
	if a.Opaque != "" {
		b.WriteString(", opaque=")
		b.WriteString(quote(a.Opaque))
	}
	if a.QOP != "" {
		b.WriteString(", qop=")
		b.WriteString(a.QOP)
		b.WriteString(", nc=")
		b.WriteString(formatNC(a.NC))
	}
	if a.Userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

// Verify reports whether the credentials carry the right response for a
// request with the given method and body, when the user's password is
// password. The comparison is constant-time. It does not check the nonce
// (see Nonces.Check), the realm or the digest-uri against the request;
// the caller does. With Userhash set, use VerifyUser.
func (a *Authorization) Verify(method string, body []byte, password string) bool {
	if a.Userhash {
		return false
	}
	return a.VerifyUser(method, body, a.Username, password)
}

// VerifyUser is Verify for a server that has already resolved the user
// name, as it must when Userhash is set (RFC 7616 §3.4.4).
func (a *Authorization) VerifyUser(method string, body []byte, username, password string) bool {
	alg, err := lookupAlgorithm(a.Algorithm)
	if err != nil {
		return false
	}
	if a.Userhash && !constantEqual(a.Username, alg.h(username, a.Realm)) {
		return false
	}
	return a.VerifyHA1(method, body, alg.h(username, a.Realm, password))
}

// VerifyHA1 is Verify for a server that stores HA1 = H(username ":" realm
// ":" password) (see HA1) rather than the password.
func (a *Authorization) VerifyHA1(method string, body []byte, ha1 string) bool {
	alg, err := lookupAlgorithm(a.Algorithm)
	if err != nil {
		return false
	}
	switch a.QOP {
	case "", "auth", "auth-int":
	default:
		return false
	}
	ha1 = strings.ToLower(ha1)
	if alg.sess {
		ha1 = alg.h(ha1, a.Nonce, a.Cnonce)
	}
	ha2 := alg.ha2(method, a.URI, a.QOP, body)
	nc := ""
	if a.QOP != "" {
		nc = formatNC(a.NC)
	}
	want := alg.response(ha1, ha2, a.Nonce, nc, a.Cnonce, a.QOP)
	return constantEqual(want, a.Response)
}

// constantEqual compares two hex digests case-insensitively in constant
// time for equal lengths.
func constantEqual(want, got string) bool {
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) == 1
}
