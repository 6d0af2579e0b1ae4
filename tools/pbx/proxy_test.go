package pbx

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// invite sends an INVITE from p to user through the PBX, answering the
// 407 challenge, and returns the request as sent.
func (p *phone) invite(user, body string, extra ...string) *req {
	p.t.Helper()
	r := p.newReq("INVITE", "sip:"+user+"@"+p.realm, user)
	r.body = body
	r.extra = extra
	p.send(r)
	res := p.response(407)
	p.ackNon2xx(r, res)
	p.authorize(r, res, "")
	p.send(r)
	return r
}

// TestProxyCall runs a whole call between two registered UAs through the
// proxy: 407, 100, INVITE with Record-Route to the callee, 180 and 200
// back, ACK and BYE along the recorded route. It also proves that every
// request the PBX sends leaves through its vnet socket: had sipgo opened a
// socket of its own (on the host), bob would never see the INVITE.
func TestProxyCall(t *testing.T) {
	b := newBench(t, nil)
	alice, bob := b.newPhone("alice"), b.newPhone("bob")
	alice.register(3600)
	bob.register(3600)

	inv := alice.invite("bob", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	in := bob.request(sip.INVITE)
	if in.Recipient.Host != bob.addr.Addr().String() || in.Recipient.Port != 5060 {
		t.Fatalf("Request-URI %s, want bob's contact", in.Recipient.String())
	}
	rr := headerValues(in, "Record-Route")
	if len(rr) != 1 || !strings.Contains(rr[0], "10.0.0.1:5060") || !strings.Contains(rr[0], ";lr") {
		t.Fatalf("Record-Route %q", rr)
	}
	if vias := headerValues(in, "Via"); len(vias) != 2 || !strings.Contains(vias[0], "10.0.0.1:5060") {
		t.Fatalf("Via %q", vias)
	}
	if in.GetHeader("Proxy-Authorization") != nil {
		t.Fatal("credentials forwarded to the callee")
	}
	if mf := in.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Fatalf("Max-Forwards %v", mf)
	}
	if string(in.Body()) != inv.body {
		t.Fatal("SDP changed on the way")
	}
	bobTag := tag()
	bob.reply(in, 180, "Ringing", bobTag, []string{"Contact: <sip:bob@" + bob.addr.String() + ">"}, "")
	res := alice.response(180)
	if tt, _ := res.To().Params.Get("tag"); tt != bobTag {
		t.Fatalf("180 To tag %q", tt)
	}
	answer := sdpOffer(netip.MustParseAddrPort("10.0.0.11:4000"))
	bob.reply(in, 200, "OK", bobTag, []string{"Contact: <sip:bob@" + bob.addr.String() + ">"}, answer)
	ok := alice.response(200)
	if string(ok.Body()) != answer || len(headerValues(ok, "Record-Route")) != 1 {
		t.Fatalf("200: %s", ok)
	}
	if vias := headerValues(ok, "Via"); len(vias) != 1 {
		t.Fatalf("200 reached alice with Via %q", vias)
	}

	// ACK along the route set to bob's contact.
	ack := *inv
	ack.method, ack.ruri, ack.toTag, ack.body, ack.extra = "ACK", "sip:bob@"+bob.addr.String(), bobTag, "", nil
	ack.branch = branch()
	ack.routes = []string{"<sip:10.0.0.1:5060;lr>"}
	alice.send(&ack)
	gotAck := bob.request(sip.ACK)
	if gotAck.Route() != nil {
		t.Fatalf("our Route entry was not removed: %s", gotAck)
	}

	// BYE from bob, along the route, to alice's contact.
	bye := fmt.Sprintf("BYE sip:alice@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"+
		"Route: <sip:10.0.0.1:5060;lr>\r\nFrom: <sip:bob@pbx.test>;tag=%s\r\nTo: <sip:alice@pbx.test>;tag=%s\r\n"+
		"Call-ID: %s\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
		alice.addr, bob.addr, branch(), bobTag, inv.fromTag, inv.callID)
	bob.sendRaw([]byte(bye))
	gotBye := alice.request(sip.BYE)
	alice.reply(gotBye, 200, "OK", "", nil, "")
	bob.response(200)
}

// TestProxyCancel: the caller cancels while the callee rings; the CANCEL
// goes downstream, the caller gets 200 for the CANCEL and 487.
func TestProxyCancel(t *testing.T) {
	b := newBench(t, nil)
	alice, bob := b.newPhone("alice"), b.newPhone("bob")
	alice.register(3600)
	bob.register(3600)
	inv := alice.invite("bob", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	in := bob.request(sip.INVITE)
	bobTag := tag()
	bob.reply(in, 180, "Ringing", bobTag, nil, "")
	alice.response(180)

	cancel := *inv
	cancel.method, cancel.body, cancel.extra, cancel.noContact = "CANCEL", "", nil, true
	alice.send(&cancel)
	got := map[int]bool{}
	for len(got) < 2 {
		res := alice.recv().(*sip.Response)
		got[res.StatusCode] = true
		if res.StatusCode == 200 && res.CSeq().MethodName != sip.CANCEL {
			t.Fatalf("200 for %s", res.CSeq().MethodName)
		}
	}
	if !got[200] || !got[487] {
		t.Fatalf("caller got %v, want 200 (CANCEL) and 487", got)
	}
	c := bob.request(sip.CANCEL)
	cb, _ := c.Via().Params.Get("branch")
	ib, _ := in.Via().Params.Get("branch")
	if cb != ib {
		t.Fatalf("CANCEL Via %s differs from INVITE Via %s", c.Via(), in.Via())
	}
	bob.reply(c, 200, "OK", "", nil, "")
	bob.reply(in, 487, "Request Terminated", bobTag, nil, "")
	ack := bob.request(sip.ACK)
	if ack.CSeq().SeqNo != in.CSeq().SeqNo {
		t.Fatalf("ACK CSeq %d", ack.CSeq().SeqNo)
	}
}

// TestProxyErrors: 404 for an unknown user, 480 for one without binding,
// errors from the callee relayed.
func TestProxyErrors(t *testing.T) {
	b := newBench(t, nil)
	alice, bob := b.newPhone("alice"), b.newPhone("bob")
	alice.register(3600)

	r := alice.invite("carol", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	alice.ackNon2xx(r, alice.response(404))
	r = alice.invite("bob", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	alice.ackNon2xx(r, alice.response(480))

	bob.register(3600)
	r = alice.invite("bob", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	in := bob.request(sip.INVITE)
	bob.reply(in, 486, "Busy Here", tag(), nil, "")
	alice.ackNon2xx(r, alice.response(486))
	bob.request(sip.ACK) // the proxy's own ACK for the 486
}

// TestProxyNoInviteAuth: with NoInviteAuth the INVITE is forwarded at
// once, and the OnInvite hook can force a response.
func TestProxyNoInviteAuth(t *testing.T) {
	b := newBench(t, func(c *Config) {
		c.NoInviteAuth = true
		c.OnInvite = func(req *sip.Request, authed bool) Override {
			if req.Recipient.User == "alice" {
				return Override{Code: 503, Headers: []sip.Header{sip.NewHeader("Retry-After", "5")}}
			}
			return Override{}
		}
	})
	alice, bob := b.newPhone("alice"), b.newPhone("bob")
	bob.register(3600)
	r := alice.newReq("INVITE", "sip:bob@pbx.test", "bob")
	r.body = sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000"))
	alice.send(r)
	bob.request(sip.INVITE)
	r = alice.newReq("INVITE", "sip:alice@pbx.test", "alice")
	alice.send(r)
	alice.response(503)
}

// TestProxyNATFix puts alice behind a NAT. She registers her private
// contact; with NATFix the INVITE reaches her through the NAT binding her
// REGISTER opened, and her BYE's 200 finds its way back.
func TestProxyNATFix(t *testing.T) {
	b := newBench(t, func(c *Config) { c.NATFix = true })
	nat, err := vnet.NewRouter(&vnet.RouterConfig{
		CIDR: "192.168.1.0/24", StaticIPs: []string{"10.0.0.50"},
		NATType:       &vnet.NATType{MappingBehavior: vnet.EndpointIndependent, FilteringBehavior: vnet.EndpointAddrPortDependent},
		LoggerFactory: logging.NewDefaultLoggerFactory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.router.AddRouter(nat); err != nil {
		t.Fatal(err)
	}
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"192.168.1.2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := nat.AddNet(n); err != nil {
		t.Fatal(err)
	}
	// The root router is running already; start the new one.
	if err := nat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nat.Stop() })
	alice := b.phoneOn(n, "192.168.1.2", "alice")
	bob := b.newPhone("bob")
	alice.register(3600)
	bob.register(3600)
	bs := b.pbx.Bindings("alice")
	if len(bs) != 1 || bs[0].Source.Addr().String() != "10.0.0.50" || bs[0].Contact.Host != "192.168.1.2" {
		t.Fatalf("binding %+v", bs)
	}

	inv := bob.invite("alice", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	in := alice.request(sip.INVITE)
	aliceTag := tag()
	alice.reply(in, 200, "OK", aliceTag, []string{"Contact: <sip:alice@192.168.1.2:5060>"}, sdpOffer(netip.MustParseAddrPort("192.168.1.2:4000")))
	bob.response(200)
	ack := *inv
	ack.method, ack.ruri, ack.toTag, ack.body, ack.extra = "ACK", "sip:alice@192.168.1.2:5060", aliceTag, "", nil
	ack.branch = branch()
	ack.routes = []string{"<sip:10.0.0.1:5060;lr>"}
	bob.send(&ack)
	alice.request(sip.ACK)
}

// TestInviteAuth: a wrong password on the INVITE gets 403, an unknown
// realm's credentials a fresh 407.
func TestInviteAuth(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	alice.pass = "wrong"
	r := alice.invite("echo", sdpOffer(netip.MustParseAddrPort("10.0.0.10:4000")))
	alice.ackNon2xx(r, alice.response(403))

	alice.realm = "elsewhere"
	r = alice.newReq("INVITE", "sip:echo@pbx.test", "echo")
	r.extra = []string{`Proxy-Authorization: Digest username="alice", realm="elsewhere", nonce="n", uri="sip:echo@pbx.test", response="00000000000000000000000000000000"`}
	alice.send(r)
	alice.ackNon2xx(r, alice.response(407))
}
