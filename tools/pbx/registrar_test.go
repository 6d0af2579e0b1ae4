package pbx

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/deskphone/phone/voip/sip/digest"
)

// TestRegisterMD5 registers with the default MD5 challenge and checks the
// challenge, the Via fix-up and the binding.
func TestRegisterMD5(t *testing.T) {
	b := newBench(t, nil)
	a := b.newPhone("alice")
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	r.extra = []string{"Expires: 600"}
	a.send(r)
	res := a.response(401)
	ch := headerValues(res, "WWW-Authenticate")
	if len(ch) != 1 {
		t.Fatalf("challenges %q", ch)
	}
	c, err := digest.ParseChallenge(ch[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Realm != "pbx.test" || c.Algorithm != "MD5" || len(c.QOP) != 1 || c.QOP[0] != "auth" || c.Stale {
		t.Fatalf("challenge %+v", c)
	}
	// RFC 3581: received and rport on our top Via.
	via := res.Via()
	if rp, _ := via.Params.Get("rport"); rp != "5060" {
		t.Errorf("rport %q in %s", rp, via)
	}
	if rc, _ := via.Params.Get("received"); rc != a.addr.Addr().String() {
		t.Errorf("received %q in %s", rc, via)
	}
	a.authorize(r, res, "")
	a.send(r)
	ok := a.response(200)
	cs := ok.GetHeaders("Contact")
	if len(cs) != 1 {
		t.Fatalf("contacts %v", cs)
	}
	ct := cs[0].(*sip.ContactHeader)
	if e, _ := ct.Params.Get("expires"); e != "600" || ct.Address.Host != a.addr.Addr().String() {
		t.Fatalf("contact %s", ct)
	}
	bs := b.pbx.Bindings("alice")
	if len(bs) != 1 || bs[0].Source != a.addr || bs[0].Transport != "UDP" {
		t.Fatalf("bindings %+v", bs)
	}
}

// TestRegisterSHA256 offers SHA-256 then MD5 (RFC 8760 §2.3) and accepts
// an answer to either.
func TestRegisterSHA256(t *testing.T) {
	b := newBench(t, func(c *Config) { c.Algorithms = []string{"SHA-256", "MD5"} })
	for _, alg := range []string{"SHA-256", "MD5"} {
		a := b.newPhone("alice")
		r := a.newReq("REGISTER", "sip:pbx.test", "alice")
		a.send(r)
		res := a.response(401)
		ch := headerValues(res, "WWW-Authenticate")
		if len(ch) != 2 || !strings.Contains(ch[0], "algorithm=SHA-256") || !strings.Contains(ch[1], "algorithm=MD5") {
			t.Fatalf("challenges %q", ch)
		}
		pick, err := digest.Pick(ch)
		if err != nil || pick.Algorithm != "SHA-256" {
			t.Fatalf("Pick: %+v %v", pick, err)
		}
		a.authorize(r, res, alg)
		a.send(r)
		a.response(200)
	}
	bs := b.pbx.Bindings("alice")
	if len(bs) != 2 {
		t.Fatalf("%d bindings, want 2", len(bs))
	}
	// The MD5 phone registered last: calls go there.
	if bs[0].Source.Addr().String() != "10.0.0.11" {
		t.Fatalf("first binding %v, want the latest registration", bs[0].Source)
	}
}

// TestRegisterWrongPassword gets 403 after the challenge, not a loop of
// 401s.
func TestRegisterWrongPassword(t *testing.T) {
	b := newBench(t, nil)
	a := b.newPhone("alice")
	a.pass = "wrong"
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	a.send(r)
	a.authorize(r, a.response(401), "")
	a.send(r)
	a.response(403)
	if len(b.pbx.Bindings("alice")) != 0 {
		t.Fatal("bound with a wrong password")
	}
	// Registering as bob with alice's credentials is refused too.
	a.pass = "alice-pw"
	r = a.newReq("REGISTER", "sip:pbx.test", "bob")
	a.send(r)
	a.authorize(r, a.response(401), "")
	a.send(r)
	a.response(403)
}

// TestRegisterUnknownUser gets 404.
func TestRegisterUnknownUser(t *testing.T) {
	b := newBench(t, nil)
	a := b.newPhone("alice")
	a.send(a.newReq("REGISTER", "sip:pbx.test", "carol"))
	a.response(404)
}

// TestRegisterStaleNonce: a correct answer to an expired nonce gets a new
// challenge with stale=true; a forged nonce a plain one.
func TestRegisterStaleNonce(t *testing.T) {
	b := newBench(t, func(c *Config) { c.NonceLifetime = time.Minute })
	a := b.newPhone("alice")
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	a.send(r)
	res := a.response(401)
	b.clock.Advance(2 * time.Minute)
	a.authorize(r, res, "")
	a.send(r)
	res = a.response(401)
	c, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil || !c.Stale {
		t.Fatalf("want stale=true: %v %v", res.GetHeader("WWW-Authenticate"), err)
	}
	// Answering the fresh challenge works.
	r.extra = nil
	a.authorize(r, res, "")
	a.send(r)
	a.response(200)

	// A nonce the server never issued: plain challenge, not stale.
	r = a.newReq("REGISTER", "sip:pbx.test", "alice")
	forged := &digest.Challenge{Realm: "pbx.test", Nonce: "made-up", QOP: []string{"auth"}}
	cr, _ := forged.Respond("REGISTER", r.ruri, nil, digest.Credentials{Username: "alice", Password: "alice-pw"}, 1, "")
	r.extra = []string{"Authorization: " + cr.String()}
	a.send(r)
	res = a.response(401)
	if c, _ := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value()); c == nil || c.Stale {
		t.Fatalf("forged nonce answered %v", res.GetHeader("WWW-Authenticate"))
	}
}

// TestRegisterIntervalTooBrief: 423 with Min-Expires (RFC 3261 §10.3
// step 7), then success with the minimum.
func TestRegisterIntervalTooBrief(t *testing.T) {
	b := newBench(t, func(c *Config) { c.MinExpires = 120 * time.Second })
	a := b.newPhone("alice")
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	r.contact = "<sip:alice@" + a.addr.String() + ">;expires=30"
	a.send(r)
	a.authorize(r, a.response(401), "")
	a.send(r)
	res := a.response(423)
	if v := res.GetHeader("Min-Expires"); v == nil || v.Value() != "120" {
		t.Fatalf("Min-Expires %v", v)
	}
	r.contact = "<sip:alice@" + a.addr.String() + ">;expires=120"
	r.cseq++
	r.branch = branch()
	a.send(r)
	res = a.response(200)
	if e, _ := res.Contact().Params.Get("expires"); e != "120" {
		t.Fatalf("expires %q", e)
	}
}

// TestRegisterExpiry: bindings lapse, expires=0 and Contact: * remove,
// long expiries are capped.
func TestRegisterExpiry(t *testing.T) {
	b := newBench(t, func(c *Config) { c.MaxExpires = 300 * time.Second })
	a := b.newPhone("alice")
	res := a.register(7200)
	if e, _ := res.Contact().Params.Get("expires"); e != "300" {
		t.Fatalf("expires %q, want capped 300", e)
	}
	b.clock.Advance(299 * time.Second)
	if len(b.pbx.Bindings("alice")) != 1 {
		t.Fatal("binding gone early")
	}
	b.clock.Advance(2 * time.Second)
	if len(b.pbx.Bindings("alice")) != 0 {
		t.Fatal("binding did not lapse")
	}

	a.register(200)
	a.register(0)
	if len(b.pbx.Bindings("alice")) != 0 {
		t.Fatal("expires=0 did not remove")
	}

	a.register(200)
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	r.contact = "*"
	r.extra = []string{"Expires: 0"}
	a.send(r)
	a.authorize(r, a.response(401), "")
	a.send(r)
	a.response(200)
	if len(b.pbx.Bindings("alice")) != 0 {
		t.Fatal("Contact: * did not remove")
	}
}

// TestRegisterOverride: the hook forces 503 with Retry-After before
// authentication, and 403 after it.
func TestRegisterOverride(t *testing.T) {
	var mode string
	b := newBench(t, func(c *Config) {
		c.OnRegister = func(req *sip.Request, authed bool) Override {
			switch {
			case mode == "503" && !authed:
				return Override{Code: 503, Headers: []sip.Header{sip.NewHeader("Retry-After", "17")}}
			case mode == "403" && authed:
				return Override{Code: 403, Reason: "Go Away"}
			}
			return Override{}
		}
	})
	a := b.newPhone("alice")
	mode = "503"
	a.send(a.newReq("REGISTER", "sip:pbx.test", "alice"))
	res := a.response(503)
	if v := res.GetHeader("Retry-After"); v == nil || v.Value() != "17" {
		t.Fatalf("Retry-After %v", v)
	}
	mode = "403"
	r := a.newReq("REGISTER", "sip:pbx.test", "alice")
	a.send(r)
	a.authorize(r, a.response(401), "")
	a.send(r)
	if res := a.response(403); res.Reason != "Go Away" {
		t.Fatalf("reason %q", res.Reason)
	}
	mode = ""
	a.register(3600)
}

// TestOptionsAndMalformed: OPTIONS is answered, garbage is dropped, a
// request without mandatory headers gets 400, and the server still works.
func TestOptionsAndMalformed(t *testing.T) {
	b := newBench(t, nil)
	a := b.newPhone("alice")
	a.sendRaw([]byte("\x00\x01garbage\r\n\r\n"))
	a.sendRaw([]byte("INVITE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n"))
	a.sendRaw([]byte("OPTIONS sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n"))
	res := a.response(400)
	if res.CSeq() != nil {
		t.Fatalf("400 for a request without CSeq has one: %s", res)
	}
	r := a.newReq("OPTIONS", "sip:pbx.test", "pbx")
	a.send(r)
	res = a.response(200)
	if v := res.GetHeader("Allow"); v == nil || !strings.Contains(v.Value(), "INVITE") {
		t.Fatalf("Allow %v", v)
	}
	if res.CSeq().SeqNo != r.cseq {
		t.Fatalf("CSeq %d", res.CSeq().SeqNo)
	}
	_ = strconv.Itoa
}
