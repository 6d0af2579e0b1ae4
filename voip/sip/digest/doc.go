// Package digest implements HTTP Digest access authentication as SIP uses
// it (RFC 3261 §22.4): RFC 2617, its successor RFC 7616, and RFC 8760,
// which adds the SHA-256 and SHA-512/256 algorithms to SIP.
//
// The client side parses a WWW-Authenticate or Proxy-Authenticate value
// with ParseChallenge (or picks the topmost supported one of several with
// Pick, RFC 8760 §2.4) and answers it with Challenge.Respond, which yields
// the Authorization or Proxy-Authorization value.
//
// The server side issues challenges with NewChallenge or, to detect stale
// nonces, with a Nonces, parses the client's answer with ParseAuthorization
// and checks it with Authorization.Verify.
//
// The response computation (RFC 7616 §3.4.1, RFC 2617 §3.2.2):
//
//	HA1      = H(username ":" realm ":" password)
//	HA1-sess = H(H(username ":" realm ":" password) ":" nonce ":" cnonce)
//	HA2      = H(method ":" digest-uri)                      qop=auth or none
//	HA2      = H(method ":" digest-uri ":" H(entity-body))   qop=auth-int
//	response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)
//	response = H(HA1 ":" nonce ":" HA2)                      no qop (RFC 2069)
//
// Supported algorithms are MD5, MD5-sess, SHA-256, SHA-256-sess,
// SHA-512-256 and SHA-512-256-sess. SHA-512-256 is the FIPS 180-4
// SHA-512/256 that RFC 8760 §2.1 names; note that the published values of
// the RFC 7616 §3.9.2 example were computed with a truncated SHA-512
// instead and are therefore not reproduced. Basic authentication is never
// accepted (RFC 8760 §2.6).
package digest
