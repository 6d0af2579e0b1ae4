package digest

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseChallengeTokenizer(t *testing.T) {
	c, err := ParseChallenge(`DIGEST REALM="a \"quoted\", realm",, NONCE=abc/def+=, Stale=TRUE, ` +
		`qop="auth-int , AUTH", algorithm=sha-256-SESS, foo="bar, baz", opaque="o", domain="sip:x sip:y"`)
	if err != nil {
		t.Fatal(err)
	}
	want := Challenge{Realm: `a "quoted", realm`, Nonce: "abc/def+=", Stale: true, QOP: []string{"auth-int", "auth"},
		Algorithm: SHA256Sess, Opaque: "o", Domain: "sip:x sip:y"}
	if c.Realm != want.Realm || c.Nonce != want.Nonce || !c.Stale || strings.Join(c.QOP, ",") != "auth-int,auth" ||
		c.Algorithm != want.Algorithm || c.Opaque != want.Opaque || c.Domain != want.Domain {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	// String round-trips.
	d, err := ParseChallenge(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != c.String() {
		t.Fatalf("round trip %q != %q", d.String(), c.String())
	}
	// qop=auth is preferred over auth-int whatever the order.
	a, err := c.Respond("REGISTER", "sip:x", nil, Credentials{"u", "p"}, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	if a.QOP != "auth" || a.NC != 7 || a.Cnonce == "" || !strings.Contains(a.String(), "nc=00000007") {
		t.Fatalf("answer %+v / %s", a, a)
	}
}

func TestParseChallengeStale(t *testing.T) {
	for v, want := range map[string]bool{
		`Digest realm="r", nonce="n", stale=true`:   true,
		`Digest realm="r", nonce="n", stale=TRUE`:   true,
		`Digest realm="r", nonce="n", stale="true"`: true,
		`Digest realm="r", nonce="n", stale=false`:  false,
		`Digest realm="r", nonce="n"`:               false,
	} {
		c, err := ParseChallenge(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if c.Stale != want {
			t.Errorf("%s: stale %v", v, c.Stale)
		}
	}
}

func TestParseChallengeErrors(t *testing.T) {
	for v, want := range map[string]error{
		``:                                       ErrSyntax,
		`Basic realm="r"`:                        ErrNotDigest,
		`Digest nonce="n"`:                       ErrMissingParam,
		`Digest realm="r"`:                       ErrMissingParam,
		`Digest realm="r", nonce="n`:             ErrSyntax,
		`Digest realm="r" nonce="n"`:             ErrSyntax,
		`Digest realm`:                           ErrSyntax,
		`Digest =x`:                              ErrSyntax,
		`Digest realm="r", realm="s", nonce="n"`: ErrSyntax,
		`Digest realm="r", nonce="n", algorithm=X`:     ErrUnsupportedAlgorithm,
		`Digest realm="r", nonce="n", algorithm=SHA-1`: ErrUnsupportedAlgorithm,
	} {
		_, err := ParseChallenge(v)
		if !errors.Is(err, want) {
			t.Errorf("%q: err %v, want %v", v, err, want)
		}
	}
	c, _ := ParseChallenge(`Digest realm="r", nonce="n", qop="auth-conf"`)
	if _, err := c.Respond("INVITE", "sip:a", nil, Credentials{}, 1, ""); !errors.Is(err, ErrUnsupportedQOP) {
		t.Errorf("qop auth-conf: %v", err)
	}
}

// TestPick follows RFC 8760 §2.4: the topmost supported challenge wins
// and unknown ones are ignored.
func TestPick(t *testing.T) {
	c, err := Pick([]string{
		`Digest realm="r", nonce="1", algorithm=SHA-1024`,
		`Digest realm="r", nonce="2", algorithm=SHA-256`,
		`Digest realm="r", nonce="3", algorithm=MD5`,
	})
	if err != nil || c.Nonce != "2" {
		t.Fatalf("Pick: %+v %v", c, err)
	}
	_, err = Pick([]string{`Basic realm="r"`, `Digest realm="r", nonce="1", algorithm=X`})
	if !errors.Is(err, ErrNoChallenge) || !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Fatalf("Pick none: %v", err)
	}
	if _, err := Pick(nil); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("Pick(nil): %v", err)
	}
}

func TestParseAuthorizationErrors(t *testing.T) {
	const base = `Digest username="u", realm="r", nonce="n", uri="sip:a", response="0123456789abcdef0123456789abcdef"`
	if _, err := ParseAuthorization(base); err != nil {
		t.Fatalf("base: %v", err)
	}
	for v, want := range map[string]error{
		`Basic dXNlcjpwYXNz`:                                                 ErrNotDigest,
		strings.Replace(base, `username="u", `, "", 1):                       ErrMissingParam,
		strings.Replace(base, `uri="sip:a", `, "", 1):                        ErrMissingParam,
		base + `, qop=auth, nc=00000001`:                                     ErrMissingParam,
		base + `, qop=auth, cnonce="c"`:                                      ErrMissingParam,
		base + `, qop=auth, cnonce="c", nc=0000000g`:                         ErrSyntax,
		base + `, qop=auth, cnonce="c", nc=000000001`:                        ErrSyntax,
		strings.Replace(base, "0123456789abcdef0123456789abcdef", "xyz", 1):  ErrSyntax,
		strings.Replace(base, "0123456789abcdef0123456789abcdef", "0123", 1): ErrSyntax,
		base + `, username*=UTF-8''x`:                                        ErrSyntax,
		strings.Replace(base, `username="u"`, `username*=latin1''x`, 1):      ErrSyntax,
		strings.Replace(base, `username="u"`, `username*=UTF-8''%zz`, 1):     ErrSyntax,
	} {
		_, err := ParseAuthorization(v)
		if !errors.Is(err, want) {
			t.Errorf("%q: err %v, want %v", v, err, want)
		}
	}
	a, err := ParseAuthorization(strings.Replace(base, `username="u"`, `username*=UTF-8''J%C3%A4s%C3%B8n%20Doe`, 1))
	if err != nil || a.Username != "J\u00e4s\u00f8n Doe" {
		t.Fatalf("username*: %+v %v", a, err)
	}
}

// TestRespondEscapes checks that values needing escapes survive the trip
// from Respond through String and ParseAuthorization to Verify.
func TestRespondEscapes(t *testing.T) {
	c := &Challenge{Realm: `we"ird\realm, x`, Nonce: "n,1", Opaque: `o"`, QOP: []string{"auth"}, Algorithm: SHA256}
	cr := Credentials{Username: `a"b\c`, Password: "p"}
	a, err := c.Respond("INVITE", "sip:bob@example.com;transport=tcp", nil, cr, 1, "c")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseAuthorization(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if *p != *a {
		t.Fatalf("round trip %+v != %+v", p, a)
	}
	if !p.Verify("INVITE", nil, "p") {
		t.Fatal("Verify failed")
	}
}

func TestVerifyHA1(t *testing.T) {
	c := &Challenge{Realm: "r", Nonce: "n", QOP: []string{"auth"}, Algorithm: MD5Sess}
	a, err := c.Respond("REGISTER", "sip:r", nil, Credentials{"u", "p"}, 1, "cn")
	if err != nil {
		t.Fatal(err)
	}
	ha1, err := HA1(MD5Sess, "u", "r", "p")
	if err != nil {
		t.Fatal(err)
	}
	if !a.VerifyHA1("REGISTER", nil, strings.ToUpper(ha1)) {
		t.Fatal("VerifyHA1 failed")
	}
	a.QOP = "auth-conf"
	if a.VerifyHA1("REGISTER", nil, ha1) {
		t.Fatal("VerifyHA1 accepted unknown qop")
	}
	if _, err := HA1("nope", "u", "r", "p"); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Fatal(err)
	}
	if !Supported("") || !Supported("sha-512-256-SESS") || Supported("SHA-1") {
		t.Fatal("Supported")
	}
}

// TestNonces checks the stateless nonces: genuine and fresh, genuine and
// stale after the lifetime, forged, garbage, and from another key.
func TestNonces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNonces([]byte("k"), time.Minute)
		nonce := n.New()
		if v, s := n.Check(nonce); !v || s {
			t.Fatalf("fresh nonce: valid %v stale %v", v, s)
		}
		if n.New() == nonce {
			t.Fatal("two equal nonces")
		}
		time.Sleep(61 * time.Second) // advances the bubble's fake clock
		if v, s := n.Check(nonce); !v || !s {
			t.Fatalf("old nonce: valid %v stale %v", v, s)
		}
		if v, _ := NewNonces([]byte("other"), time.Minute).Check(nonce); v {
			t.Fatal("nonce valid under another key")
		}
		b := []byte(nonce)
		b[20] ^= 1
		for _, bad := range []string{string(b), "", "x", nonce + "A", strings.Repeat("A", len(nonce))} {
			if v, s := n.Check(bad); v || s {
				t.Fatalf("%q: valid %v stale %v", bad, v, s)
			}
		}
		// A nonce from the future is refused.
		future := NewNonces([]byte("k"), time.Minute)
		future.Now = func() time.Time { return time.Now().Add(time.Hour) }
		if v, _ := n.Check(future.New()); v {
			t.Fatal("future nonce valid")
		}
	})
}

func TestNewChallenge(t *testing.T) {
	c := NewChallenge("example.com", "sha-256", true)
	if c.Algorithm != SHA256 || !c.Stale || c.Realm != "example.com" || len(c.QOP) != 1 {
		t.Fatalf("%+v", c)
	}
	if v, s := CheckNonce(c.Nonce); !v || s {
		t.Fatalf("CheckNonce: %v %v", v, s)
	}
	if NewChallenge("example.com", "", false).Nonce == c.Nonce {
		t.Fatal("nonce repeated")
	}
	// Server and client together.
	p, err := ParseChallenge(c.String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Respond("REGISTER", "sip:example.com", nil, Credentials{"alice", "pw"}, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAuthorization(a.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Opaque != c.Opaque || got.Nonce != c.Nonce || !got.Verify("REGISTER", nil, "pw") {
		t.Fatalf("server check failed: %+v", got)
	}
}

func BenchmarkRespond(b *testing.B) {
	c := &Challenge{Realm: "biloxi.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", QOP: []string{"auth"}, Algorithm: SHA256}
	cr := Credentials{Username: "bob", Password: "zanzibar"}
	for b.Loop() {
		if _, err := c.Respond("REGISTER", "sip:biloxi.com", nil, cr, 1, "0a4f113b"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseAndVerify(b *testing.B) {
	c := &Challenge{Realm: "biloxi.com", Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", QOP: []string{"auth"}, Algorithm: MD5}
	a, _ := c.Respond("REGISTER", "sip:biloxi.com", nil, Credentials{Username: "bob", Password: "zanzibar"}, 1, "0a4f113b")
	v := a.String()
	for b.Loop() {
		p, err := ParseAuthorization(v)
		if err != nil || !p.Verify("REGISTER", nil, "zanzibar") {
			b.Fatal("verify failed")
		}
	}
}

func BenchmarkNonceCheck(b *testing.B) {
	n := NewNonces([]byte("key"), time.Minute)
	nonce := n.New()
	for b.Loop() {
		if v, _ := n.Check(nonce); !v {
			b.Fatal("invalid")
		}
	}
}
