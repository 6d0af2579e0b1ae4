package sip

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sdp"
)

// iceCreds returns the call's ICE credentials and the key its agents
// were started with.
func iceCreds(c *Call) (ufrag, pwd, remote string, ag bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.iceUfrag, c.icePwd, c.iceRemote, c.iceAgent != nil
}

// waitSelected waits (fake time) until both calls' agents selected a pair.
func waitSelected(t *testing.T, cs ...*Call) {
	t.Helper()
	for range 100 {
		ok := true
		for _, c := range cs {
			ok = ok && c.ICESelected().IsValid()
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no ICE pair selected")
}

// TestICERestart: a NAT change under a live ICE call re-INVITEs with
// fresh credentials (RFC 8839 §4.4.1.1.1): our agents restart once the
// answer arrives, the peer's restart with them, and both select again;
// the peer's own restart (its NAT changed) restarts ours the same way.
// A change while another re-INVITE is open keeps the credentials.
func TestICERestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
			Net: w.host("10.0.0.1"), Listen: netip.MustParseAddrPort("10.0.0.1:5060")})
		if err != nil {
			t.Fatal(err)
		}
		pw := &pbxWorld{w: w, pbx: s}
		pw.start(t)
		acct := func(user, pass string) func(*Config) {
			return func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
				c.ICE = true
			}
		}
		a := newPhone(t, w.host("10.0.0.2"), acct("alice", "a-secret"))
		b := newPhone(t, w.host("10.0.0.3"), acct("bob", "b-secret"))
		for _, p := range []*phone{a, b} {
			p.waitReg(t, RegRegistered)
		}
		ab, ba := connect(t, a, b, "bob")
		waitSelected(t, ab, ba)
		au, ap, _, _ := iceCreds(ab)
		bu, bp, _, _ := iceCreds(ba)

		// A re-INVITE with the same credentials and another c= (baresip's
		// updated offer after nomination) keeps media on the selected pair.
		sel := ab.ICESelected()
		ab.mu.Lock()
		neg := ab.neg
		ab.mu.Unlock()
		neg.Remote = netip.AddrPortFrom(neg.Remote.Addr(), neg.Remote.Port()+100)
		if err := ab.applyNeg(neg); err != nil {
			t.Fatal(err)
		}
		if r := ab.Media().Stats().Remote; r != sel {
			t.Errorf("media goes to %v after a same-credentials re-INVITE, want the selected %v", r, sel)
		}

		// Alice's media mapping changed address: her re-INVITE restarts ICE.
		ab.mu.Lock()
		mp := ab.mapping
		ab.mu.Unlock()
		a.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: mp})
		if !reinvited(t, b, ba) {
			t.Fatal("no re-INVITE after the media address change")
		}
		waitSelected(t, ab, ba)
		au2, ap2, akey, aok := iceCreds(ab)
		_, _, bkey, bok := iceCreds(ba)
		if au2 == au || ap2 == ap || au2 == "" || ap2 == "" {
			t.Errorf("alice's credentials after the restart: %q/%q, before %q/%q", au2, ap2, au, ap)
		}
		if !aok || !bok || bkey != bu+"|"+au2+":"+ap2 || akey != au2+"|"+bu+":"+bp {
			t.Errorf("agents not restarted with the new credentials: alice %q, bob %q", akey, bkey)
		}

		// Bob's NAT changed: his restart restarts alice's agents.
		ba.mu.Lock()
		bmp := ba.mapping
		ba.mu.Unlock()
		b.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: bmp})
		if !reinvited(t, a, ab) {
			t.Fatal("no re-INVITE after bob's media address change")
		}
		waitSelected(t, ab, ba)
		bu3, bp3, _, _ := iceCreds(ba)
		_, _, akey3, _ := iceCreds(ab)
		if bu3 == bu || akey3 != au2+"|"+bu3+":"+bp3 {
			t.Errorf("bob's restart: his ufrag %q (was %q), alice's agents keyed %q", bu3, bu, akey3)
		}

		// Alice controls and her selected pair's local candidate is her
		// c= already (one LAN): no updated offer, but her descriptions
		// follow the after-nomination rules from the new selection on
		// (RFC 8839 §4.4.1.2.2: a=remote-candidates); bob's, controlled,
		// do not.
		synctest.Wait()
		ab.mu.Lock()
		al := ab.localLocked(sdp.SendRecv)
		ab.mu.Unlock()
		ba.mu.Lock()
		bl := ba.localLocked(sdp.SendRecv)
		ba.mu.Unlock()
		if al.ICE == nil || len(al.ICE.Remote) == 0 || al.ICE.Remote[0].Addr != ab.ICESelected() || al.Addr.Addr() != netip.MustParseAddr("10.0.0.2") {
			t.Errorf("alice's description after bob's restart: default %v, ICE %+v", al.Addr, al.ICE)
		}
		if bl.ICE == nil || len(bl.ICE.Remote) != 0 {
			t.Errorf("bob's (controlled) description: ICE %+v", bl.ICE)
		}

		// Refresh refused (the call is held by nobody but a re-INVITE is
		// open): the credentials stay.
		ab.mu.Lock()
		ab.reinviteOut = true
		ab.mu.Unlock()
		if err := ab.refreshICE(); err == nil {
			t.Error("refreshICE with a re-INVITE open succeeded")
		}
		ab.mu.Lock()
		ab.reinviteOut = false
		ab.mu.Unlock()
		if u, p, _, _ := iceCreds(ab); u != au2 || p != ap2 {
			t.Errorf("credentials changed by a refused refresh: %q/%q", u, p)
		}
		for _, c := range []*Call{ab, ba} {
			if st := c.State(); st != StateTalking {
				t.Errorf("%s is %s after the restarts", c, st)
			}
		}
	})
}
