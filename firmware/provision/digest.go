package provision

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
)

// HTTP digest access authentication (RFC 7616) for GET requests, the
// client side: the server answers 401 with a challenge,
//
//	WWW-Authenticate: Digest realm="phones", qop="auth", algorithm=SHA-256,
//	                  nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="..."
//
// and the client asks again with
//
//	Authorization: Digest username="phone", realm="phones", uri="/p/phone.yaml",
//	               algorithm=SHA-256, nonce="...", nc=00000001, cnonce="...",
//	               qop=auth, response="...", opaque="..."
//
// where (section 3.4.1) response = H(H(user:realm:password) ":" nonce ":"
// nc ":" cnonce ":" qop ":" H(method ":" uri)), or without qop (RFC 2069)
// H(H(A1) ":" nonce ":" H(A2)). The last challenge is kept and reused with
// a growing nonce count, so that only the first request, and one after
// the server lets the nonce go stale, costs a 401.

// challenge is a parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string            // lower case: "digest", "basic"
	params map[string]string // keys lower case
}

// maxChallenge bounds a header the parser looks at.
const maxChallenge = 4096

var errChallenge = errors.New("malformed challenge")

// parseChallenge reads one challenge: a scheme, then comma-separated
// name=value pairs, values plain tokens or quoted strings with \ escapes.
func parseChallenge(s string) (challenge, error) {
	if len(s) > maxChallenge {
		return challenge{}, fmt.Errorf("%w: %d bytes", errChallenge, len(s))
	}
	s = strings.TrimSpace(s)
	scheme, rest, _ := strings.Cut(s, " ")
	if scheme == "" || strings.ContainsAny(scheme, "=,\"") {
		return challenge{}, fmt.Errorf("%w: no scheme", errChallenge)
	}
	c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return c, nil
		}
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return challenge{}, fmt.Errorf("%w: parameter without value", errChallenge)
		}
		name := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return challenge{}, fmt.Errorf("%w: unterminated quoted string", errChallenge)
			}
			val, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexAny(rest, ", \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		if name == "" || strings.ContainsAny(name, " \t\"") {
			return challenge{}, fmt.Errorf("%w: bad parameter name", errChallenge)
		}
		c.params[name] = val
	}
}

// pickChallenge returns the best challenge the client can answer from a
// 401's WWW-Authenticate headers: digest SHA-256, then digest MD5, then
// basic (only when tls).
func pickChallenge(headers []string, tls bool) (challenge, bool) {
	var best challenge
	rank := 0
	for _, h := range headers {
		c, err := parseChallenge(h)
		if err != nil {
			continue
		}
		r := 0
		switch {
		case c.scheme == "digest" && strings.EqualFold(c.params["algorithm"], "SHA-256"):
			r = 3
		case c.scheme == "digest" && (c.params["algorithm"] == "" || strings.EqualFold(c.params["algorithm"], "MD5")):
			r = 2
		case c.scheme == "basic" && tls:
			r = 1
		}
		if c.scheme == "digest" && (c.params["nonce"] == "" || !qopOK(c.params["qop"])) {
			r = 0
		}
		if r > rank {
			best, rank = c, r
		}
	}
	return best, rank > 0
}

// qopOK reports whether a digest challenge's qop allows "auth" (or is
// absent: RFC 2069).
func qopOK(qop string) bool {
	if qop == "" {
		return true
	}
	for q := range strings.SplitSeq(qop, ",") {
		if strings.TrimSpace(q) == "auth" {
			return true
		}
	}
	return false
}

// authTransport answers basic and digest challenges for GET requests.
type authTransport struct {
	base           http.RoundTripper
	user, password string

	mu sync.Mutex // guards following
	ch *challenge // last challenge, reused
	nc uint32
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.user == "" || req.Method != http.MethodGet {
		return t.base.RoundTrip(req)
	}
	first := req
	if h := t.authorization(req); h != "" {
		first = req.Clone(req.Context())
		first.Header.Set("Authorization", h)
	}
	resp, err := t.base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	c, ok := pickChallenge(resp.Header.Values("WWW-Authenticate"), req.URL.Scheme == "https")
	if !ok {
		return resp, nil
	}
	if first != req && c.scheme == "digest" && !strings.EqualFold(c.params["stale"], "true") && c.params["nonce"] == t.usedNonce() {
		// Our answer to this very challenge was refused: the credentials
		// are wrong. Asking again would only repeat it. (A new nonce, or
		// stale=true, is answered once more.)
		t.setChallenge(nil)
		return resp, nil
	}
	resp.Body.Close()
	t.setChallenge(&c)
	again := req.Clone(req.Context())
	again.Header.Set("Authorization", t.authorization(req))
	return t.base.RoundTrip(again)
}

func (t *authTransport) usedNonce() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch == nil {
		return ""
	}
	return t.ch.params["nonce"]
}

func (t *authTransport) setChallenge(c *challenge) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ch, t.nc = c, 0
}

// authorization returns the Authorization header for req from the last
// challenge, "" when there is none.
func (t *authTransport) authorization(req *http.Request) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ch == nil {
		return ""
	}
	if t.ch.scheme == "basic" {
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(t.user, t.password)
		return r.Header.Get("Authorization")
	}
	t.nc++
	p := t.ch.params
	algo, h := "MD5", md5.New
	if strings.EqualFold(p["algorithm"], "SHA-256") {
		algo, h = "SHA-256", sha256.New
	}
	uri := req.URL.RequestURI()
	ha1 := hexHash(h, t.user+":"+p["realm"]+":"+t.password)
	ha2 := hexHash(h, req.Method+":"+uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username=%s, realm=%s, nonce=%s, uri=%s, algorithm=%s`,
		quote(t.user), quote(p["realm"]), quote(p["nonce"]), quote(uri), algo)
	if p["qop"] != "" {
		var raw [12]byte
		_, _ = rand.Read(raw[:])
		cnonce := hex.EncodeToString(raw[:])
		nc := fmt.Sprintf("%08x", t.nc)
		resp := hexHash(h, ha1+":"+p["nonce"]+":"+nc+":"+cnonce+":auth:"+ha2)
		fmt.Fprintf(&b, `, qop=auth, nc=%s, cnonce=%s, response=%s`, nc, quote(cnonce), quote(resp))
	} else {
		fmt.Fprintf(&b, `, response=%s`, quote(hexHash(h, ha1+":"+p["nonce"]+":"+ha2)))
	}
	if o, ok := p["opaque"]; ok {
		fmt.Fprintf(&b, `, opaque=%s`, quote(o))
	}
	return b.String()
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// quote writes s as an HTTP quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
