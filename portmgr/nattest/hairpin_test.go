package nattest

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip"
	"github.com/pion/transport/v4/vnet"
)

// TestSameNAT is issue 14's hairpinning case: alice and bob, both our
// phone with STUN and the relay, behind one NAT, call each other. Each
// advertises the NAT's public address, so their media must loop in the
// NAT. vnet's NATs loop a packet to their own public address through
// the WAN router, so the two phones' RTP punches the filter as between
// two sites: direct media (discovery still says hairpinning false
// behind the port-restricted NAT, whose filter drops the test's
// unsolicited loop). With the loop dropped (a NAT that does not hairpin
// at all, as Linux masquerading without a hairpin rule), nothing
// arrives, the liveness rule moves the call to the relay and both hear
// each other.
func TestSameNAT(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kind       portmgrtest.NATKind
		noLoop     bool
		relay      bool
		ata        bool // bob does no NAT work: private SDP, no latching
		aliceCalls bool
	}{
		{"full-cone", portmgrtest.FullCone, false, false, false, false},
		{"port-restricted", portmgrtest.PortRestrictedCone, false, false, false, false},
		{"port-restricted-no-hairpin", portmgrtest.PortRestrictedCone, true, true, false, false},
		{"full-cone-no-hairpin", portmgrtest.FullCone, true, true, false, false},
		// bob advertises his private address: alice sees him behind her
		// own NAT (his public IP is hers) and keeps the LAN address.
		{"port-restricted-no-hairpin-private-sdp", portmgrtest.PortRestrictedCone, true, false, true, false},
		// alice calls: her offer had the public address; when nothing
		// arrives she re-INVITEs with her LAN address, not the relay.
		{"port-restricted-no-hairpin-private-sdp-alice-calls", portmgrtest.PortRestrictedCone, true, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, true)
				site := w.AddSite(tc.kind, 0)
				if tc.noLoop {
					w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
						src, dst := c.SourceAddr().(*net.UDPAddr), c.DestinationAddr().(*net.UDPAddr)
						return src == nil || dst == nil || !(src.IP.Equal(site.Public.AsSlice()) && dst.IP.Equal(site.Public.AsSlice()))
					})
				}
				bobNet := site.AddLANHost(t, site.LocalIP.Next())
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
				alice := newPhoneWith(t, w, site, "alice", "a-secret", nil, nil)
				var wrap func(*portmgr.Manager) portmgr.Mapper
				bobMod := func(c *portmgr.Config) { c.Net = bobNet }
				if tc.ata {
					wrap = newNoLatch
					bobMod = func(c *portmgr.Config) {
						c.Net, c.TURN, c.STUNServers = bobNet, portmgr.TURNConfig{}, nil
						c.Strategies = []portmgr.Strategy{portmgr.StrategyLocal}
					}
				}
				bob := newPhoneWith(t, w, site, "bob", "b-secret", wrap, func(c *sip.Config) {
					if tc.ata {
						c.MediaTimeout = -1
					}
				}, bobMod)
				for _, p := range []*phone{alice, bob} {
					if err := p.registered(); err != nil {
						t.Fatal(err)
					}
				}
				var ca, cb *sip.Call
				if tc.aliceCalls {
					if ca, err = alice.ua.Dial(context.Background(), "bob"); err != nil {
						t.Fatal(err)
					}
					if cb, err = bob.incoming(); err != nil {
						t.Fatal(err)
					}
					if err := cb.Answer(); err != nil {
						t.Fatal(err)
					}
					if err := alice.state(ca, sip.StateTalking); err != nil {
						t.Fatal(err)
					}
				} else {
					if cb, err = bob.ua.Dial(context.Background(), "alice"); err != nil {
						t.Fatal(err)
					}
					if ca, err = alice.incoming(); err != nil {
						t.Fatal(err)
					}
					if err := ca.Answer(); err != nil {
						t.Fatal(err)
					}
					if err := bob.state(cb, sip.StateTalking); err != nil {
						t.Fatal(err)
					}
				}
				gotA, gotB := talkBoth(ca, cb, 440, 1000, 5*time.Second)
				pa, ra := ca.MediaPath()
				pb, rb := cb.MediaPath()
				hp := alice.pm.Report().Hairpinning
				t.Logf("%s: hairpinning reported %v; alice %s (%s), bob %s (%s); alice hears %v, bob hears %v; alice's first audio %v after the answer",
					tc.name, hp, pa, ra, pb, rb, hears(gotA, 1000), hears(gotB, 440), ca.Media().Stats().FirstRx.Sub(answeredAt(ca, cb)))
				if !hears(gotA, 1000) || !hears(gotB, 440) {
					t.Errorf("no two-way audio: alice hears %v, bob hears %v", hears(gotA, 1000), hears(gotB, 440))
				}
				if relayed := pa == sip.MediaPathRelay || pb == sip.MediaPathRelay; relayed != tc.relay {
					t.Errorf("relayed %v, want %v", relayed, tc.relay)
				}
				if from, _ := ca.MediaHint(); tc.ata && from != "same-nat" {
					t.Errorf("alice's media hint %q, want same-nat", from)
				}
				if hp != (tc.kind == portmgrtest.FullCone && !tc.noLoop) {
					t.Errorf("hairpinning reported %v behind %s", hp, tc.name)
				}
				_ = cb.Hangup()
				_ = bob.state(cb, sip.StateEnded)
			})
		})
	}
}

// answeredAt is when the call was answered, as the callee saw it.
func answeredAt(ca, cb *sip.Call) time.Time {
	if t := ca.Answered(); !t.IsZero() {
		return t
	}
	return cb.Answered()
}
