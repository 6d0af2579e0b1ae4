package pbx

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/deskphone/phone/voip/sip/digest"
)

// authenticate checks the digest credentials of req for our realm (RFC
// 3261 §22). For REGISTER (proxy false) it uses Authorization and answers
// 401 with WWW-Authenticate; for requests a proxy authenticates (proxy
// true) Proxy-Authorization and 407 with Proxy-Authenticate (RFC 3261
// §22.3). It returns the authenticated user, or ok false after it has
// answered the request itself:
//
//   - no credentials for our realm, a nonce we did not issue, or an
//     algorithm we did not offer: a fresh challenge;
//   - a correct response with a stale nonce: a challenge with stale=true
//     (RFC 7616 §3.3), so the UA retries without asking the user;
//   - an unknown user or a wrong response: 403 Forbidden (the UA had its
//     challenge already, a second 401 would only loop).
//
// The realm is the domain's (see domain): REGISTER's To, or the From of
// a request the proxy authenticates.
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, proxy bool) (user string, ok bool) {
	dom := s.domain(req.To().Address.Host)
	if proxy {
		dom = s.domain(req.From().Address.Host)
	}
	hdrName := "Authorization"
	if proxy {
		hdrName = "Proxy-Authorization"
	}
	var cred *digest.Authorization
	for _, h := range req.GetHeaders(hdrName) {
		a, err := digest.ParseAuthorization(h.Value())
		if err != nil {
			s.log.Debug("bad credentials", "err", err, "call_id", req.CallID().Value())
			continue
		}
		if a.Realm == dom.realm {
			cred = a
			break
		}
	}
	if cred == nil || !s.offered(cred.Algorithm) {
		s.challenge(req, tx, proxy, false, dom.realm)
		return "", false
	}
	valid, stale := s.nonces.Check(cred.Nonce)
	if !valid {
		s.challenge(req, tx, proxy, false, dom.realm)
		return "", false
	}
	password, known := dom.users[cred.Username]
	if !known || !cred.Verify(string(req.Method), req.Body(), password) {
		s.log.Info("authentication failed", "user", cred.Username, "method", req.Method, "raddr", req.Source())
		s.respond(tx, req, sip.StatusForbidden, "")
		return "", false
	}
	if stale {
		s.challenge(req, tx, proxy, true, dom.realm)
		return "", false
	}
	return cred.Username, true
}

// offered reports whether alg is one of the configured algorithms.
func (s *Server) offered(alg string) bool {
	if alg == "" {
		alg = digest.MD5
	}
	for _, a := range s.cfg.Algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// challenge answers 401 or 407 with one challenge per configured
// algorithm, most preferred first (RFC 8760 §2.3).
func (s *Server) challenge(req *sip.Request, tx sip.ServerTransaction, proxy, stale bool, realm string) {
	code, hdrName := sip.StatusUnauthorized, "WWW-Authenticate"
	if proxy {
		code, hdrName = sip.StatusProxyAuthRequired, "Proxy-Authenticate"
	}
	nonce := s.nonces.New()
	opaque := digest.NewCnonce()
	hdrs := make([]sip.Header, 0, len(s.cfg.Algorithms))
	for _, alg := range s.cfg.Algorithms {
		c := &digest.Challenge{Realm: realm, Nonce: nonce, Opaque: opaque, Algorithm: alg,
			QOP: []string{"auth"}, Stale: stale}
		hdrs = append(hdrs, sip.NewHeader(hdrName, c.String()))
	}
	s.respond(tx, req, code, "", hdrs...)
}

// domainInfo is one SIP domain the PBX serves.
type domainInfo struct {
	realm string            // the digest realm, the domain name
	users map[string]string // user name to password
	extra bool              // one of Config.Domains, not Realm
}

// domain is the domain host names: one of Config.Domains, else Realm's
// (Realm itself, our address, or a host we do not know).
func (s *Server) domain(host string) domainInfo {
	for d, users := range s.cfg.Domains {
		if strings.EqualFold(d, host) {
			return domainInfo{realm: d, users: users, extra: true}
		}
	}
	return domainInfo{realm: s.cfg.Realm, users: s.cfg.Users}
}

// isDomain reports whether host is Realm or one of Config.Domains.
func (s *Server) isDomain(host string) bool {
	return strings.EqualFold(host, s.cfg.Realm) || s.domain(host).extra
}

// aor is the registrar's key for user in dom: the user name for Realm,
// user@domain for the others.
func (dom domainInfo) aor(user string) string {
	if dom.extra {
		return user + "@" + strings.ToLower(dom.realm)
	}
	return user
}
