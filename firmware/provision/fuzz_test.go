package provision

import (
	"net/http"
	"testing"
)

// FuzzChallenge: a WWW-Authenticate value from any server is parsed
// without a panic, and what is picked can be answered.
func FuzzChallenge(f *testing.F) {
	f.Add(`Digest realm="phones", qop="auth,auth-int", nonce="abc", opaque="o", algorithm=SHA-256`)
	f.Add(`Basic realm="x"`)
	f.Add(`Digest realm="a\"b", nonce=n, stale=TRUE`)
	f.Add(`Digest ,,, realm=`)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseChallenge(s)
		if err == nil && c.scheme == "" {
			t.Fatal("no scheme without error")
		}
		if ch, ok := pickChallenge([]string{s}, true); ok {
			tr := &authTransport{user: "u", password: "p", ch: &ch}
			req, _ := http.NewRequest(http.MethodGet, "http://h/p/phone.yaml", nil)
			if h := tr.authorization(req); h == "" {
				t.Fatal("picked a challenge and answered nothing")
			}
		}
	})
}
