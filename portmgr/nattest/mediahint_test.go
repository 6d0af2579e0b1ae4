package nattest

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip"
)

// TestPrivateSDPFarEnd is issue 14's item 2: bob does no NAT work at all
// (no STUN, no relay, no latching: his SDP and Contact hold his private
// address, as a cheap ATA's do) behind each NAT kind, and calls alice,
// our phone with STUN and a relay, behind each NAT kind; the PBX routes
// to where REGISTERs came from (NATFix, like Kamailio's nathelper) and
// adds received= to bob's Via. Alice sees the private SDP address, takes
// bob's public IP from the Via, sends her RTP to it at the SDP port and
// latches onto what arrives; where that cannot work (bob's NAT picks
// another port and alice's filters by port), the liveness rule moves the
// call to her relay (permission for bob's public IP). Every pair must
// get two-way audio; the control (hint off: MediaTimeout -1 and the
// hint... see want) shows which pairs did before.
func TestPrivateSDPFarEnd(t *testing.T) {
	kinds := []portmgrtest.NATKind{portmgrtest.FullCone, portmgrtest.RestrictedCone, portmgrtest.PortRestrictedCone, portmgrtest.Symmetric}
	for _, noHint := range []bool{false, true} {
		for _, ak := range kinds {
			for _, bk := range kinds {
				name := fmt.Sprintf("%s-calls-%s", bk, ak)
				if noHint {
					name = "control-no-hint/" + name
				}
				t.Run(name, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						alice, bob := privateSetup(t, ak, bk, noHint)
						cb, ca := answered(t, bob, alice, "alice")
						gotA, gotB := talkBoth(ca, cb, 440, 1000, 4*time.Second)
						path, reason := ca.MediaPath()
						from, ip := ca.MediaHint()
						st := ca.Media().Stats()
						t.Logf("bob %s -> alice %s: alice hears %v, bob hears %v; hint %s %v; path %s (%s); alice's first audio %v after the answer",
							bk, ak, hears(gotA, 1000), hears(gotB, 440), from, ip, path, reason, st.FirstRx.Sub(ca.Answered()))
						if !noHint && (from == "" || ip != bobSite(bob).Public) {
							t.Errorf("hint %q %v, want bob's public IP %v", from, ip, bobSite(bob).Public)
						}
						if !noHint && (ak == portmgrtest.PortRestrictedCone) != (path == sip.MediaPathRelay) {
							t.Errorf("media path %s, want the relay only behind alice's port-restricted NAT (vnet's NATs do not keep ports)", path)
						}
						if !hears(gotA, 1000) || !hears(gotB, 440) {
							t.Errorf("no two-way audio: alice hears %v, bob hears %v", hears(gotA, 1000), hears(gotB, 440))
						}
						_ = cb.Hangup()
						_ = bob.state(cb, sip.StateEnded)
					})
				})
			}
		}
	}
}

var sites sync.Map // *phone -> *portmgrtest.Site

func bobSite(p *phone) *portmgrtest.Site {
	s, _ := sites.Load(p)
	return s.(*portmgrtest.Site)
}

// privateSetup: alice behind ak with STUN, the relay and the liveness
// rule; bob behind bk advertising his private address, no latching.
func privateSetup(t *testing.T, ak, bk portmgrtest.NATKind, noHint bool) (alice, bob *phone) {
	t.Helper()
	w := portmgrtest.NewWorld(t, true)
	sa, sb := w.AddSite(ak, 0), w.AddSite(bk, 0)
	pn := w.PublicNet(pbxAddr.Addr().String())
	srv, err := pbx.New(pbx.Config{
		Realm:  "pbx.test",
		Users:  map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net:    pn,
		Listen: pbxAddr,
		NATFix: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	alice = newPhoneWith(t, w, sa, "alice", "a-secret", nil, func(c *sip.Config) { c.NoMediaHint = noHint })
	bob = newPhoneWith(t, w, sb, "bob", "b-secret", newNoLatch, func(c *sip.Config) { c.MediaTimeout = -1 },
		func(c *portmgr.Config) {
			c.TURN = portmgr.TURNConfig{}
			c.STUNServers = nil
			c.Strategies = []portmgr.Strategy{portmgr.StrategyLocal}
		})
	sites.Store(bob, sb)
	for _, p := range []*phone{alice, bob} {
		if err := p.registered(); err != nil {
			t.Fatal(err)
		}
	}
	return alice, bob
}
