package digest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conformanceDir holds the RFC 7616 and RFC 2617 digest vectors
// (provenance in its README.md).
var conformanceDir = filepath.Join("testdata", "conformance")

func readConformance(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(conformanceDir, name))
	if err != nil {
		t.Fatalf("digest vector missing: %v", err)
	}
	return string(b)
}

// TestRFC7616Example checks RFC 7616 §3.9.1: both challenges parse, and
// the MD5 and SHA-256 answers reproduce the published responses and
// verify on the server side.
func TestRFC7616Example(t *testing.T) {
	text := readConformance(t, "rfc7616_3.9_examples.txt")
	const (
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	cr := Credentials{Username: "Mufasa", Password: "Circle of Life"}
	for _, tc := range []struct {
		alg, want string
	}{
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec"},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			// The challenge as printed in the RFC, folded over lines.
			hdr := "Digest\n    realm=\"http-auth@example.org\",\n    qop=\"auth, auth-int\",\n    algorithm=" + tc.alg +
				",\n    nonce=\"" + nonce + "\",\n    opaque=\"" + opaque + "\""
			c, err := ParseChallenge(hdr)
			if err != nil {
				t.Fatal(err)
			}
			if c.Realm != "http-auth@example.org" || c.Nonce != nonce || c.Opaque != opaque || c.Algorithm != tc.alg {
				t.Fatalf("parsed %+v", c)
			}
			if len(c.QOP) != 2 || c.QOP[0] != "auth" || c.QOP[1] != "auth-int" {
				t.Fatalf("qop %q", c.QOP)
			}
			a, err := c.Respond("GET", "/dir/index.html", nil, cr, 1, cnonce)
			if err != nil {
				t.Fatal(err)
			}
			if a.Response != tc.want {
				t.Fatalf("response %s, want %s", a.Response, tc.want)
			}
			// The published value is in the RFC text (the SHA-256 one is
			// wrapped across two lines there).
			if !strings.Contains(strings.Join(strings.Fields(text), ""), tc.want) {
				t.Errorf("published response %s not found in the RFC text", tc.want)
			}
			b, err := ParseAuthorization(a.String())
			if err != nil {
				t.Fatal(err)
			}
			if *b != *a {
				t.Fatalf("round trip %+v != %+v", b, a)
			}
			if !b.Verify("GET", nil, cr.Password) {
				t.Fatal("Verify failed on own answer")
			}
			if b.Verify("GET", nil, "Circle Of Life") || b.Verify("POST", nil, cr.Password) {
				t.Fatal("Verify accepted a wrong password or method")
			}
		})
	}
}

// TestRFC7616AuthorizationVerbatim parses the Authorization header printed
// in RFC 7616 §3.9.1 and verifies it.
func TestRFC7616AuthorizationVerbatim(t *testing.T) {
	readConformance(t, "rfc7616_3.9_examples.txt")
	v := `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="8ca523f5e9506fed4657c9700eebdbec",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
	a, err := ParseAuthorization(v)
	if err != nil {
		t.Fatal(err)
	}
	if a.NC != 1 || a.QOP != "auth" || a.Username != "Mufasa" {
		t.Fatalf("parsed %+v", a)
	}
	if !a.Verify("GET", nil, "Circle of Life") {
		t.Fatal("published Authorization does not verify")
	}
}

// TestRFC7616UserhashSHA512256 checks the RFC 7616 §3.9.2 inputs with the
// FIPS 180-4 SHA-512/256 (the values INDEX.md computed with OpenSSL; the
// RFC's own values use truncated SHA-512, see the WARNING there).
func TestRFC7616UserhashSHA512256(t *testing.T) {
	readConformance(t, "INDEX.md")
	c, err := ParseChallenge(`Digest realm="api@example.org", qop="auth, auth-int", algorithm=SHA-512-256,
       nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
       opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Userhash || c.Algorithm != SHA512_256 {
		t.Fatalf("parsed %+v", c)
	}
	cr := Credentials{Username: "J\u00e4s\u00f8n Doe", Password: "Secret, or not?"}
	a, err := c.Respond("GET", "/doe.json", nil, cr, 1, "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v")
	if err != nil {
		t.Fatal(err)
	}
	if want := "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"; a.Username != want {
		t.Errorf("userhash %s, want %s", a.Username, want)
	}
	if want := "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"; a.Response != want {
		t.Errorf("response %s, want %s", a.Response, want)
	}
	if a.Verify("GET", nil, cr.Password) {
		t.Error("Verify must refuse userhash credentials (user unknown)")
	}
	if !a.VerifyUser("GET", nil, cr.Username, cr.Password) {
		t.Error("VerifyUser failed")
	}
	if a.VerifyUser("GET", nil, "Jason Doe", cr.Password) {
		t.Error("VerifyUser accepted the wrong user")
	}
}

// TestRFC2617Example checks RFC 2617 §3.5, with and without qop.
func TestRFC2617Example(t *testing.T) {
	text := readConformance(t, "rfc2617_3.5_example.txt")
	c, err := ParseChallenge(`Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if err != nil {
		t.Fatal(err)
	}
	cr := Credentials{Username: "Mufasa", Password: "Circle Of Life"}
	a, err := c.Respond("GET", "/dir/index.html", nil, cr, 1, "0a4f113b")
	if err != nil {
		t.Fatal(err)
	}
	const want = "6629fae49393a05397450978507c4ef1"
	if a.Response != want {
		t.Fatalf("response %s, want %s", a.Response, want)
	}
	if !strings.Contains(text, want) {
		t.Errorf("published response not in the RFC text")
	}
	c.QOP = nil
	a, err = c.Respond("GET", "/dir/index.html", nil, cr, 1, "0a4f113b")
	if err != nil {
		t.Fatal(err)
	}
	if want := "670fd8c2df070c60b045671b8b24ff02"; a.Response != want {
		t.Fatalf("RFC 2069 response %s, want %s", a.Response, want)
	}
	if a.QOP != "" || a.Cnonce != "" || a.NC != 0 {
		t.Fatalf("RFC 2069 answer carries qop fields: %+v", a)
	}
	s := a.String()
	if strings.Contains(s, "nc=") || strings.Contains(s, "qop=") || strings.Contains(s, "cnonce=") {
		t.Fatalf("RFC 2069 answer %q", s)
	}
}

// derivedVector is one row of INDEX.md §6.
type derivedVector struct {
	alg, method, uri, qop, ha1, ha2, response string
}

// readDerived parses the table of INDEX.md §6 "Derived SIP vectors".
func readDerived(t *testing.T) []derivedVector {
	text := readConformance(t, "INDEX.md")
	_, sec, ok := strings.Cut(text, "## 6.")
	if !ok {
		t.Fatal("INDEX.md has no section 6")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var out []derivedVector
	var prevHA1, prevHA2 string
	sc := bufio.NewScanner(strings.NewReader(sec))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| alg") || strings.HasPrefix(line, "|---") {
			continue
		}
		var f []string
		for c := range strings.SplitSeq(strings.Trim(line, "|"), "|") {
			f = append(f, strings.Trim(strings.TrimSpace(c), "`"))
		}
		if len(f) != 7 {
			t.Fatalf("bad row %q", line)
		}
		v := derivedVector{f[0], f[1], f[2], f[3], f[4], f[5], f[6]}
		if v.ha1 == "same" {
			v.ha1 = prevHA1
		}
		if v.ha2 == "same" {
			v.ha2 = prevHA2
		}
		prevHA1, prevHA2 = v.ha1, v.ha2
		out = append(out, v)
	}
	if len(out) < 12 {
		t.Fatalf("only %d derived vectors parsed", len(out))
	}
	return out
}

// TestDerivedSIPVectors checks every INDEX.md §6 row: the intermediate
// HA1/HA2 and the response, through Respond and through Verify.
func TestDerivedSIPVectors(t *testing.T) {
	const nonce, cnonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", "0a4f113b"
	cr := Credentials{Username: "bob", Password: "zanzibar"}
	for _, v := range readDerived(t) {
		t.Run(v.alg+"/"+v.method+"/"+v.qop, func(t *testing.T) {
			alg, err := lookupAlgorithm(v.alg)
			if err != nil {
				t.Fatal(err)
			}
			qop := v.qop
			switch {
			case qop == "(none)":
				qop = ""
			case strings.HasPrefix(qop, "auth-int"):
				qop = "auth-int"
			}
			if got := alg.ha1("bob", "biloxi.com", "zanzibar", nonce, cnonce); got != v.ha1 {
				t.Errorf("HA1 %s, want %s", got, v.ha1)
			}
			if got := alg.ha2(v.method, v.uri, qop, nil); got != v.ha2 {
				t.Errorf("HA2 %s, want %s", got, v.ha2)
			}
			c := &Challenge{Realm: "biloxi.com", Nonce: nonce, Algorithm: v.alg}
			if qop != "" {
				c.QOP = []string{qop}
			}
			a, err := c.Respond(v.method, v.uri, nil, cr, 1, cnonce)
			if err != nil {
				t.Fatal(err)
			}
			if a.Response != v.response {
				t.Fatalf("response %s, want %s", a.Response, v.response)
			}
			p, err := ParseAuthorization(a.String())
			if err != nil {
				t.Fatal(err)
			}
			if !p.Verify(v.method, nil, "zanzibar") {
				t.Fatal("Verify failed")
			}
			if p.Verify(v.method, nil, "zanzibaR") {
				t.Fatal("Verify accepted a wrong password")
			}
			if qop == "auth-int" && p.Verify(v.method, []byte("v=0\r\n"), "zanzibar") {
				t.Fatal("auth-int Verify ignored the body")
			}
		})
	}
}

// TestRFC3261ExampleIsNotAVector documents INDEX.md §5: the RFC 3261 §22.4
// Authorization example parses but is not a SIP digest for REGISTER.
func TestRFC3261ExampleIsNotAVector(t *testing.T) {
	a, err := ParseAuthorization(`Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	if err != nil {
		t.Fatal(err)
	}
	if a.Verify("INVITE", nil, "zanzibar") || a.Verify("REGISTER", nil, "zanzibar") {
		t.Fatal("the copied HTTP response verified for a SIP method")
	}
}
