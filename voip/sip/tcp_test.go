package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/stdnet"
)

// TestPBXOverTCP registers alice and bob to tools/pbx over SIP/TCP on
// loopback (sipgo dials; the port manager gives the address to
// advertise), and alice calls bob through it: Contact and Via carry the
// connection's real local port with transport=tcp, the call is answered,
// both hear each other's tone over RTP, and bob's BYE ends it at alice.
func TestPBXOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm:  "pbx.test",
		Users:  map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net:    n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		TCP:    netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	lo := netip.MustParseAddr("127.0.0.1")
	mk := func(user, pass string, base uint16) *phone {
		p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: lo,
			SIPPorts:   portmgr.Range{Min: base, Max: base + 9},
			MediaPorts: portmgr.Range{Min: base + 1000, Max: base + 1099}},
			func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Transport: "tcp",
					Registrar: srv.TCPAddr().String()}
			})
		p.wait = 20 * time.Second
		return p
	}
	a := mk("alice", "a-secret", 45160)
	b := mk("bob", "b-secret", 45260)
	for _, p := range []*phone{a, b} {
		st := p.waitReg(t, RegRegistered)
		if !strings.Contains(st.Contact, "transport=tcp") || strings.Contains(st.Contact, ":0;") {
			t.Errorf("contact %q: want transport=tcp and the connection's port", st.Contact)
		}
	}

	ca, err := a.ua.Dial(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	cb := b.waitIncoming(t)
	inv := cb.inviteRequest()
	if v := inv.Via(); v == nil || !strings.EqualFold(v.Transport, "TCP") {
		t.Errorf("bob got the INVITE with Via %v, want TCP", v)
	}
	if err := cb.Answer(); err != nil {
		t.Fatal(err)
	}
	a.waitCall(t, ca, StateTalking)
	gotA, gotB := talkBoth(t, ca, cb, 440, 1000, time.Second)
	if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
		t.Error("alice does not hear bob's 1 kHz")
	}
	if !tone.Contains(tail(gotB, 0.5), 440, 8000) {
		t.Error("bob does not hear alice's 440 Hz")
	}
	cb.Hangup()
	if ev := a.waitCall(t, ca, StateEnded); ev.Reason != "remote hangup" {
		t.Errorf("alice's call ended with %q, want remote hangup", ev.Reason)
	}
}

// inviteRequest is the INVITE that created an incoming call.
func (c *Call) inviteRequest() *siplib.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inviteReq
}
