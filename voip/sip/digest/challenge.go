package digest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Challenge is a parsed WWW-Authenticate or Proxy-Authenticate value
// (RFC 7616 §3.3, RFC 3261 §22.4).
type Challenge struct {
	Realm string
	Nonce string
	// Opaque is echoed unchanged in the Authorization.
	Opaque string
	// Algorithm is the canonical algorithm name, or "" when the challenge
	// had no algorithm parameter (which means MD5).
	Algorithm string
	Domain    string
	// QOP lists the offered quality-of-protection values, lower-cased,
	// in the server's order; empty means the RFC 2069 form.
	QOP   []string
	Stale bool
	// Userhash asks the client to send H(username ":" realm) instead of
	// the username (RFC 7616 §3.4.4).
	Userhash bool
}

// ParseChallenge parses a WWW-Authenticate or Proxy-Authenticate header
// value. Parameter names are case-insensitive, unknown parameters are
// ignored, quoted strings may contain escaped quotes and commas. A
// challenge whose algorithm this package cannot compute gives an error
// wrapping ErrUnsupportedAlgorithm (the caller should then ignore it,
// RFC 8760 §2.4); one that is not Digest gives ErrNotDigest.
func ParseChallenge(v string) (*Challenge, error) {
	rest, err := splitScheme(v)
	if err != nil {
		return nil, err
	}
	params, err := parseParams(rest)
	if err != nil {
		return nil, err
	}
	c := &Challenge{}
	var haveRealm, haveNonce bool
	for _, p := range params {
		switch p.name {
		case "realm":
			c.Realm, haveRealm = p.value, true
		case "nonce":
			c.Nonce, haveNonce = p.value, true
		case "opaque":
			c.Opaque = p.value
		case "domain":
			c.Domain = p.value
		case "algorithm":
			c.Algorithm = p.value
		case "qop":
			for q := range strings.SplitSeq(p.value, ",") {
				q = strings.ToLower(strings.TrimSpace(q))
				if q != "" {
					c.QOP = append(c.QOP, q)
				}
			}
		case "stale":
			c.Stale = strings.EqualFold(p.value, "true")
		case "userhash":
			c.Userhash = strings.EqualFold(p.value, "true")
		}
	}
	if !haveRealm {
		return nil, fmt.Errorf("%w: realm", ErrMissingParam)
	}
	if !haveNonce {
		return nil, fmt.Errorf("%w: nonce", ErrMissingParam)
	}
	if _, err := lookupAlgorithm(c.Algorithm); err != nil {
		return nil, err
	}
	c.Algorithm = canonicalAlgorithm(c.Algorithm)
	return c, nil
}

// Pick parses several challenge header values, in the order they appeared
// in the message, and returns the topmost one this package can answer
// (RFC 8760 §2.4: "SHOULD use the topmost header field that it supports",
// "MUST ignore any challenge it does not understand"). It returns an error
// wrapping ErrNoChallenge when none can be answered.
func Pick(values []string) (*Challenge, error) {
	var errs []error
	for _, v := range values {
		c, err := ParseChallenge(v)
		if err == nil {
			if _, qerr := c.pickQOP(); qerr == nil {
				return c, nil
			} else {
				err = qerr
			}
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%w: no challenge", ErrNoChallenge)
	}
	return nil, fmt.Errorf("%w: %w", ErrNoChallenge, errors.Join(errs...))
}

// String formats the challenge as a header value, quoting as RFC 7616
// §3.3 requires (algorithm, stale and userhash unquoted).
func (c *Challenge) String() string {
	var b strings.Builder
	b.WriteString("Digest realm=")
	b.WriteString(quote(c.Realm))
	if c.Domain != "" {
		b.WriteString(", domain=")
		b.WriteString(quote(c.Domain))
	}
	b.WriteString(", nonce=")
	b.WriteString(quote(c.Nonce))
	if c.Opaque != "" {
		b.WriteString(", opaque=")
		b.WriteString(quote(c.Opaque))
	}
	if c.Stale {
		b.WriteString(", stale=true")
	}
	if c.Algorithm != "" {
		b.WriteString(", algorithm=")
		b.WriteString(c.Algorithm)
	}
	if len(c.QOP) > 0 {
		b.WriteString(", qop=")
		b.WriteString(quote(strings.Join(c.QOP, ",")))
	}
	if c.Userhash {
		b.WriteString(", userhash=true")
	}
	return b.String()
}

// pickQOP chooses the qop to answer with: "auth" when offered, else
// "auth-int", else "" (RFC 2069 form) when none is offered.
func (c *Challenge) pickQOP() (string, error) {
	if len(c.QOP) == 0 {
		return "", nil
	}
	for _, want := range []string{"auth", "auth-int"} {
		for _, q := range c.QOP {
			if q == want {
				return q, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnsupportedQOP, truncate(strings.Join(c.QOP, ",")))
}

// Credentials are what the user configured for a realm.
type Credentials struct {
	Username, Password string
}

// Respond computes the answer to c for a request with the given method,
// digest-uri (the Request-URI, RFC 3261 §22.4) and body. It uses qop=auth
// when the challenge offers it, else auth-int, and the RFC 2069 form when
// the challenge has no qop. nc is the nonce count for this nonce, starting
// at 1 (0 is taken as 1); cnonce is the client nonce, and a random one is
// made when it is empty and a qop is in use.
func (c *Challenge) Respond(method, uri string, body []byte, cr Credentials, nc uint32, cnonce string) (*Authorization, error) {
	alg, err := lookupAlgorithm(c.Algorithm)
	if err != nil {
		return nil, err
	}
	qop, err := c.pickQOP()
	if err != nil {
		return nil, err
	}
	a := &Authorization{
		Username:  cr.Username,
		Realm:     c.Realm,
		Nonce:     c.Nonce,
		URI:       uri,
		Algorithm: c.Algorithm,
		Opaque:    c.Opaque,
		QOP:       qop,
		Userhash:  c.Userhash,
	}
	if qop != "" || alg.sess {
		if nc == 0 {
			nc = 1
		}
		if cnonce == "" {
			cnonce = NewCnonce()
		}
		a.Cnonce = cnonce
	}
	if qop != "" {
		a.NC = nc
	}
	if c.Userhash {
		a.Username = alg.h(cr.Username, c.Realm)
	}
	ha1 := alg.ha1(cr.Username, c.Realm, cr.Password, c.Nonce, a.Cnonce)
	ha2 := alg.ha2(method, uri, qop, body)
	a.Response = alg.response(ha1, ha2, c.Nonce, formatNC(a.NC), a.Cnonce, qop)
	return a, nil
}

// NewCnonce returns a fresh random client nonce (RFC 7616 §3.4: cnonce).
func NewCnonce() string {
	var b [12]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b[:])
}

// formatNC formats a nonce count as exactly 8 lower-case hex digits
// (RFC 7616 §3.4: nc-value = 8LHEX).
func formatNC(nc uint32) string {
	return fmt.Sprintf("%08x", nc)
}
