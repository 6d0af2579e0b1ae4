package nattest

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip"
	"github.com/pion/transport/v4/vnet"
)

// TestICELite: alice has a public address (STUN maps her socket to
// itself), bob is behind a port-restricted NAT, both with ICE on. When
// alice answers she is an ICE-lite agent (RFC 8445 §2.5): her answer
// says a=ice-lite at session level and lists her host candidate only;
// bob's full agent controls, checks it and nominates; alice selects the
// pair from bob's check. When alice calls she is a full agent (no
// a=ice-lite in her offer). Two-way audio both times.
func TestICELite(t *testing.T) {
	for _, aliceCalls := range []bool{false, true} {
		t.Run(map[bool]string{false: "alice-answers-lite", true: "alice-offers-full"}[aliceCalls], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, true)
				var mu sync.Mutex
				var bodies []string // SIP messages from alice's address with SDP
				sa, sb := w.AddSite(portmgrtest.Open, 0), w.AddSite(portmgrtest.PortRestrictedCone, 0)
				w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
					if d := string(c.UserData()); strings.Contains(d, "\r\n\r\nv=0") && strings.HasPrefix(c.SourceAddr().String(), sa.Public.String()+":") {
						mu.Lock()
						bodies = append(bodies, d)
						mu.Unlock()
					}
					return true
				})
				srv, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
					Net: w.PublicNet(pbxAddr.Addr().String()), Listen: pbxAddr})
				if err != nil {
					t.Fatal(err)
				}
				w.Start()
				if err := srv.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				on := func(c *sip.Config) { c.ICE = true }
				alice := newPhoneWith(t, w, sa, "alice", "a-secret", nil, on)
				bob := newPhoneWith(t, w, sb, "bob", "b-secret", nil, on)
				for _, p := range []*phone{alice, bob} {
					if err := p.registered(); err != nil {
						t.Fatal(err)
					}
				}
				caller, callee, user := bob, alice, "alice"
				if aliceCalls {
					caller, callee, user = alice, bob, "bob"
				}
				cr, ce := answered(t, caller, callee, user)
				gotR, gotE := talkBoth(cr, ce, 440, 1000, 3*time.Second)
				if !hears(gotR, 1000) || !hears(gotE, 440) {
					t.Errorf("no two-way audio: caller hears %v, callee hears %v", hears(gotR, 1000), hears(gotE, 440))
				}
				if !cr.ICESelected().IsValid() || !ce.ICESelected().IsValid() {
					t.Errorf("ICE selected caller %v, callee %v", cr.ICESelected(), ce.ICESelected())
				}
				mu.Lock()
				defer mu.Unlock()
				if len(bodies) == 0 {
					t.Fatal("no description from alice seen")
				}
				first := bodies[0]
				_, sdpPart, _ := strings.Cut(first, "\r\n\r\n")
				sessionPart, _, _ := strings.Cut(sdpPart, "m=audio")
				lite := strings.Contains(sessionPart, "a=ice-lite\r\n")
				if lite == aliceCalls {
					t.Errorf("alice's first description (she calls: %v) ice-lite %v:\n%s", aliceCalls, lite, sdpPart)
				}
				if !aliceCalls && (strings.Contains(sdpPart, "typ srflx") || strings.Contains(sdpPart, "typ relay") || !strings.Contains(sdpPart, "typ host")) {
					t.Errorf("lite answer lists more than host candidates:\n%s", sdpPart)
				}
				_ = cr.Hangup()
				_ = caller.state(cr, sip.StateEnded)
			})
		})
	}
}
