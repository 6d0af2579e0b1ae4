package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Algorithm names as they appear on the wire (RFC 8760 §2.1, RFC 7616
// §3.3). Matching is case-insensitive.
const (
	MD5              = "MD5"
	MD5Sess          = "MD5-sess"
	SHA256           = "SHA-256"
	SHA256Sess       = "SHA-256-sess"
	SHA512_256       = "SHA-512-256"
	SHA512_256Sess   = "SHA-512-256-sess"
	defaultAlgorithm = MD5
)

// algorithm describes one supported hash.
type algorithm struct {
	name string
	new  func() hash.Hash
	sess bool
}

var algorithms = []algorithm{
	{MD5, md5.New, false},
	{MD5Sess, md5.New, true},
	{SHA256, sha256.New, false},
	{SHA256Sess, sha256.New, true},
	{SHA512_256, sha512.New512_256, false},
	{SHA512_256Sess, sha512.New512_256, true},
}

// lookupAlgorithm returns the algorithm named name (case-insensitive); the
// empty name means MD5 (RFC 7616 §3.3, RFC 8760 §2.1).
func lookupAlgorithm(name string) (algorithm, error) {
	if name == "" {
		return algorithms[0], nil
	}
	for _, a := range algorithms {
		if strings.EqualFold(a.name, name) {
			return a, nil
		}
	}
	return algorithm{}, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, truncate(name))
}

// Supported reports whether algorithm can be used by this package. The
// empty string (no algorithm parameter) means MD5 and is supported.
func Supported(algorithm string) bool {
	_, err := lookupAlgorithm(algorithm)
	return err == nil
}

// canonicalAlgorithm returns the canonical spelling of name, or name
// unchanged when it is unknown.
func canonicalAlgorithm(name string) string {
	if a, err := lookupAlgorithm(name); err == nil && name != "" {
		return a.name
	}
	return name
}

// h returns the lower-case hex digest of the parts joined by ':'.
func (a algorithm) h(parts ...string) string {
	hh := a.new()
	for i, p := range parts {
		if i > 0 {
			hh.Write([]byte{':'})
		}
		hh.Write([]byte(p))
	}
	return hex.EncodeToString(hh.Sum(nil))
}

// hashBody returns H(entity-body) for qop=auth-int.
func (a algorithm) hashBody(body []byte) string {
	hh := a.new()
	hh.Write(body)
	return hex.EncodeToString(hh.Sum(nil))
}

// ha1 computes HA1 (RFC 7616 §3.4.2), including the -sess form.
func (a algorithm) ha1(username, realm, password, nonce, cnonce string) string {
	x := a.h(username, realm, password)
	if a.sess {
		x = a.h(x, nonce, cnonce)
	}
	return x
}

// ha2 computes HA2 (RFC 7616 §3.4.3).
func (a algorithm) ha2(method, uri, qop string, body []byte) string {
	if qop == "auth-int" {
		return a.h(method, uri, a.hashBody(body))
	}
	return a.h(method, uri)
}

// response computes the request-digest (RFC 7616 §3.4.1); with an empty
// qop it is the RFC 2069 form H(HA1:nonce:HA2).
func (a algorithm) response(ha1, ha2, nonce, nc, cnonce, qop string) string {
	if qop == "" {
		return a.h(ha1, nonce, ha2)
	}
	return a.h(ha1, nonce, nc, cnonce, qop, ha2)
}

// HA1 returns H(username ":" realm ":" password) for algorithm, the value a
// server may store instead of the password (RFC 7616 §3.4.2). For the
// -sess algorithms it is still the plain hash; the session part depends on
// the nonce and is added during verification.
func HA1(algorithm, username, realm, password string) (string, error) {
	a, err := lookupAlgorithm(algorithm)
	if err != nil {
		return "", err
	}
	return a.h(username, realm, password), nil
}

// Userhash returns H(username ":" realm), the value sent as the username
// when the server asked for userhash=true (RFC 7616 §3.4.4).
func Userhash(algorithm, username, realm string) (string, error) {
	a, err := lookupAlgorithm(algorithm)
	if err != nil {
		return "", err
	}
	return a.h(username, realm), nil
}
