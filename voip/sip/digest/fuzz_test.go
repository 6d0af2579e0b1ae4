package digest

import "testing"

// FuzzParseChallenge checks that no input panics and that whatever parses
// also survives String and a second parse with the same fields.
func FuzzParseChallenge(f *testing.F) {
	f.Add(`Digest realm="biloxi.com", qop="auth,auth-int", nonce="dcd98b", opaque="5ccc", algorithm=MD5`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseChallenge(v)
		if err != nil {
			return
		}
		d, err := ParseChallenge(c.String())
		if err != nil {
			t.Fatalf("String() of %q does not parse: %v (%q)", v, err, c.String())
		}
		if d.String() != c.String() {
			t.Fatalf("round trip differs: %q vs %q", d.String(), c.String())
		}
		_, _ = c.Respond("INVITE", "sip:a@b", []byte("x"), Credentials{"u", "p"}, 1, "")
	})
}

// FuzzParseAuthorization checks that no input panics, that what parses
// survives String, and that Verify never panics.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(`Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:biloxi.com", response="9e2d1006810044fd79f39476209ae31a", cnonce="0a4f113b", opaque="5ccc", qop=auth, nc=00000001`)
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ParseAuthorization(v)
		if err != nil {
			return
		}
		a.Verify("REGISTER", nil, "p")
		a.VerifyUser("REGISTER", nil, "u", "p")
		b, err := ParseAuthorization(a.String())
		if err != nil {
			t.Fatalf("String() of %q does not parse: %v (%q)", v, err, a.String())
		}
		if b.String() != a.String() {
			t.Fatalf("round trip differs: %q vs %q", b.String(), a.String())
		}
	})
}
