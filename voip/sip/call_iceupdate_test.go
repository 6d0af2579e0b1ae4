package sip

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
)

// lastDefault is the RTP address (c=/m=) of the call's last description,
// and the description.
func lastDefault(c *Call) (def netip.AddrPort, desc string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.localSDP == nil {
		return def, ""
	}
	return netipFromSDP(c.localSDP), string(c.localSDP.Marshal())
}

// negRemote is where the call's negotiated description says the far
// end's RTP goes.
func negRemote(c *Call) netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.Remote
}

// TestICEUpdatedOffer: RFC 8445 §8.1.2, RFC 8839 §4.4.1.2.2. Alice and
// bob are on one LAN, but alice advertises a public address in c= (a
// static external one nothing answers on, as behind a NAT that does not
// hairpin; bob's requests would not reach her either, so she calls).
// ICE selects the host pair; alice, the offerer, controls: since the
// pair's local candidate (her host address) is not her c=, she
// re-INVITEs once with it as the default and only its candidate, and
// bob's media goes there by SDP as well as by ICE. Nothing more is sent
// for the same selection, nor after the call ended.
func TestICEUpdatedOffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
			Net: w.host("10.0.0.1"), Listen: netip.MustParseAddrPort("10.0.0.1:5060")})
		if err != nil {
			t.Fatal(err)
		}
		pw := &pbxWorld{w: w, pbx: s}
		acct := func(user, pass string) func(*Config) {
			return func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
				c.ICE, c.MediaTimeout = true, -1
			}
		}
		an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
		pw.start(t)
		a := newPhoneWith(t, portmgr.Config{Net: an, StaticExternal: netip.MustParseAddr("203.0.113.2")}, acct("alice", "a-secret"))
		// Bob takes alice's SDP as it is: her Contact's public address
		// would otherwise stand in for her private c= (mediahint.go).
		b := newPhone(t, bn, func(c *Config) { acct("bob", "b-secret")(c); c.NoMediaHint = true })
		for _, p := range []*phone{a, b} {
			p.waitReg(t, RegRegistered)
		}
		ab, ba := connect(t, a, b, "bob")
		invites := countStarts(w, "INVITE ")
		first, _ := lastDefault(ab)
		if first.Addr() != netip.MustParseAddr("203.0.113.2") {
			t.Fatalf("alice's offer c=/m= %v, want the static external address", first)
		}
		waitSelected(t, ab, ba)
		if !reinvited(t, b, ba) {
			t.Fatal("bob got no updated offer from alice")
		}
		synctest.Wait()
		def, desc := lastDefault(ab)
		if def.Addr() != netip.MustParseAddr("10.0.0.2") {
			t.Errorf("alice's default after the updated offer %v, want her host address", def)
		}
		if got := negRemote(ba); got != def {
			t.Errorf("bob's negotiated remote %v, want alice's updated default %v", got, def)
		}
		if strings.Contains(desc, "typ srflx") || strings.Contains(desc, "203.0.113.2") {
			t.Errorf("updated offer still lists other candidates:\n%s", desc)
		}
		if !strings.Contains(desc, "typ host") {
			t.Errorf("updated offer lists no host candidate:\n%s", desc)
		}
		sel := ab.ICESelected()
		// Component 2's pair may be selected later: its remote end is
		// named only when it is.
		if want := fmt.Sprintf("a=remote-candidates:1 %s %d", sel.Addr(), sel.Port()); !strings.Contains(desc, want) {
			t.Errorf("updated offer lacks %q:\n%s", want, desc)
		}
		if _, bd := lastDefault(ba); strings.Contains(bd, "remote-candidates") {
			t.Errorf("bob's answer carries a=remote-candidates:\n%s", bd)
		}
		if r := ba.Media().Stats().Remote; r != ba.ICESelected() {
			t.Errorf("bob's media goes to %v, selected %v", r, ba.ICESelected())
		}
		hears(t, ab, ba, "after the updated offer")
		// Once per selection: no further re-INVITE, even when the agent
		// reports the same selection again.
		ab.mu.Lock()
		mp := ab.mapping
		ab.mu.Unlock()
		ab.iceUpdateDefault(mp, def)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		want := invites + 2 // the updated offer, relayed by the pbx
		if n := countStarts(w, "INVITE "); n != want {
			t.Errorf("%d INVITEs on the wire, want %d", n, want)
		}
		// Alice's ICE restart (her NAT changed): the restart offers her
		// usual default (the static address) and all candidates again;
		// the new agents select the host pair, and a new updated offer
		// makes it the default again.
		_, _, oldKey, _ := iceCreds(ab)
		a.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: mp})
		if !reinvited(t, b, ba) {
			t.Fatal("no re-INVITE after alice's media address change")
		}
		waitSelected(t, ab, ba)
		if _, _, key, _ := iceCreds(ab); key == oldKey {
			t.Fatal("alice's agents not restarted")
		}
		if !reinvited(t, b, ba) {
			t.Fatal("no updated offer after alice's restart")
		}
		synctest.Wait()
		want += 4 // the restart and the new updated offer
		if n := countStarts(w, "INVITE "); n != want {
			t.Errorf("%d INVITEs on the wire after alice's restart, want %d", n, want)
		}
		if d, desc := lastDefault(ab); d != def || strings.Contains(desc, "typ srflx") {
			t.Errorf("alice's default after the restart %v, want %v, host candidate only:\n%s", d, def, desc)
		}
		// Never once the call ended.
		if err := ab.Hangup(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ab, StateEnded)
		ab.mu.Lock()
		ab.iceUpdated = netip.AddrPort{}
		ab.mu.Unlock()
		ab.iceUpdateDefault(mp, def)
		time.Sleep(time.Second)
		synctest.Wait()
		if n := countStarts(w, "INVITE "); n != want {
			t.Errorf("%d INVITEs on the wire after the hang-up, want %d", n, want)
		}
	})
}

// TestICERTCPMux: an ICE offer with a=rtcp-mux (as WebRTC gateways and
// pion send) is accepted: RTCP shares the RTP port (RFC 5761), so only
// ICE component 1 runs on either side (no component-2 agent), the answer
// and every later description (alice's updated offer here) carry no
// component-2 candidate and no a=rtcp but keep a=rtcp-mux, and audio and
// RTCP (round-trip times from the reception reports) flow both ways on
// the one port.
func TestICERTCPMux(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorldDelay(t, 5*time.Millisecond) // RTT > 0
		s, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
			Net: w.host("10.0.0.1"), Listen: netip.MustParseAddrPort("10.0.0.1:5060")})
		if err != nil {
			t.Fatal(err)
		}
		pw := &pbxWorld{w: w, pbx: s}
		acct := func(user, pass string) func(*Config) {
			return func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
				c.ICE, c.MediaTimeout, c.NoMediaHint = true, -1, true
			}
		}
		an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
		pw.start(t)
		// Alice offers rtcp-mux, and advertises an address in c= that is
		// not her host one, so that she sends an updated offer too.
		a := newPhoneWith(t, portmgr.Config{Net: an, StaticExternal: netip.MustParseAddr("203.0.113.2")},
			func(c *Config) { acct("alice", "a-secret")(c); c.offerRTCPMux = true })
		b := newPhone(t, bn, acct("bob", "b-secret"))
		for _, p := range []*phone{a, b} {
			p.waitReg(t, RegRegistered)
		}
		ab, ba := connect(t, a, b, "bob")
		_, answer := lastDefault(ba)
		waitSelected(t, ab, ba)
		if !reinvited(t, b, ba) {
			t.Fatal("bob got no updated offer from alice")
		}
		synctest.Wait()
		_, updated := lastDefault(ab)
		for what, d := range map[string]string{"bob's answer": answer, "alice's updated offer": updated} {
			if !strings.Contains(d, "a=rtcp-mux") || strings.Contains(d, "a=rtcp:") || strings.Contains(d, " 2 UDP ") {
				t.Errorf("%s: want a=rtcp-mux, no a=rtcp and no component-2 candidate:\n%s", what, d)
			}
		}
		for _, c := range []*Call{ab, ba} {
			c.mu.Lock()
			mux, ag, ag2 := c.neg.RTCPMux, c.iceAgent, c.iceAgent2
			c.mu.Unlock()
			if !mux || ag == nil || ag2 != nil {
				t.Errorf("%s: rtcp-mux %v, component-1 agent %v, component-2 agent %v; want mux and component 1 only", c, mux, ag != nil, ag2 != nil)
			}
		}
		// Both send for long enough that each gets reception reports of
		// its sender reports (RTCP every few seconds).
		gotA, gotB := talkBoth(t, ab, ba, 440, 1000, 15*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("no two-way audio with rtcp-mux")
		}
		for _, c := range []*Call{ab, ba} {
			if st := c.Media().Stats(); st.RTT == 0 || st.Remote != c.ICESelected() {
				t.Errorf("%s: RTT %v (no reception reports on the muxed port?), media to %v, selected %v", c, st.RTT, st.Remote, c.ICESelected())
			}
		}
	})
}
