package nattest

import (
	"context"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sip"
	"github.com/pion/transport/v4/vnet"
)

// TestICE is issue 14's ICE item on the in-process matrix: our phone
// against our phone with nat.ice on both sides (or on one, the control).
//
//   - same-nat: alice and bob behind one port-restricted NAT that does
//     not hairpin. Without ICE the c= addresses (the NAT's public one)
//     carry nothing and the liveness rule relays the call (TestSameNAT);
//     with ICE the host candidates on the LAN are checked, the pair is
//     selected, and media moves there: direct, no relay.
//   - cross: alice and bob behind different NATs where STUN works; ICE
//     selects the server-reflexive pair and audio flows from the first
//     packet (media starts on c= at once).
//   - one-sided: only alice does ICE; bob sees attributes he ignores and
//     the call is today's call.
//   - relayed-mapping: alice behind a symmetric NAT, her media mapping on
//     her TURN relay from the start; ICE runs through it.
func TestICE(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sameNAT    bool
		ka, kb     portmgrtest.NATKind
		iceA, iceB bool
		aliceCalls bool
	}{
		{"same-nat-bob-calls", true, portmgrtest.PortRestrictedCone, portmgrtest.PortRestrictedCone, true, true, false},
		{"same-nat-alice-calls", true, portmgrtest.PortRestrictedCone, portmgrtest.PortRestrictedCone, true, true, true},
		{"cross-alice-calls", false, portmgrtest.PortRestrictedCone, portmgrtest.FullCone, true, true, true},
		{"cross-bob-calls", false, portmgrtest.RestrictedCone, portmgrtest.PortRestrictedCone, true, true, false},
		{"one-sided", false, portmgrtest.PortRestrictedCone, portmgrtest.FullCone, true, false, true},
		// Alice's own mapping is relayed (a symmetric NAT maps per
		// destination): her checks arrive through the relay she uses.
		{"relayed-mapping-alice-calls", false, portmgrtest.Symmetric, portmgrtest.PortRestrictedCone, true, true, true},
		{"relayed-mapping-bob-calls", false, portmgrtest.Symmetric, portmgrtest.PortRestrictedCone, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, true)
				sa := w.AddSite(tc.ka, 0)
				inv := watchInvites(w)
				var sb *portmgrtest.Site
				var bobMod func(*portmgr.Config)
				if tc.sameNAT {
					w.WAN.AddChunkFilter(func(c vnet.Chunk) bool { // no hairpin
						src, dst := c.SourceAddr().(*net.UDPAddr), c.DestinationAddr().(*net.UDPAddr)
						return src == nil || dst == nil || !(src.IP.Equal(sa.Public.AsSlice()) && dst.IP.Equal(sa.Public.AsSlice()))
					})
					bobNet := sa.AddLANHost(t, sa.LocalIP.Next())
					sb = sa
					bobMod = func(c *portmgr.Config) { c.Net = bobNet }
				} else {
					sb = w.AddSite(tc.kb, 0)
				}
				pn := w.PublicNet(pbxAddr.Addr().String())
				srv, err := pbx.New(pbx.Config{
					Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
					Net: pn, Listen: pbxAddr,
				})
				if err != nil {
					t.Fatal(err)
				}
				w.Start()
				if err := srv.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { srv.Close() })
				iceOn := func(on bool) func(*sip.Config) { return func(c *sip.Config) { c.ICE = on } }
				alice := newPhoneWith(t, w, sa, "alice", "a-secret", nil, iceOn(tc.iceA))
				var bob *phone
				if bobMod != nil {
					bob = newPhoneWith(t, w, sb, "bob", "b-secret", nil, iceOn(tc.iceB), bobMod)
				} else {
					bob = newPhoneWith(t, w, sb, "bob", "b-secret", nil, iceOn(tc.iceB))
				}
				for _, p := range []*phone{alice, bob} {
					if err := p.registered(); err != nil {
						t.Fatal(err)
					}
				}
				caller, callee, user := bob, alice, "alice"
				if tc.aliceCalls {
					caller, callee, user = alice, bob, "bob"
				}
				cr, ce := answered(t, caller, callee, user)
				gotR, gotE := talkBoth(cr, ce, 440, 1000, 4*time.Second)
				selR, selE := cr.ICESelected(), ce.ICESelected()
				pr, _ := cr.MediaPath()
				pe, _ := ce.MediaPath()
				ans := answeredAt(cr, ce)
				t.Logf("%s: caller selected %v, callee %v; paths %s/%s; caller hears %v, callee hears %v; first audio after the answer: caller %v, callee %v",
					tc.name, selR, selE, pr, pe, hears(gotR, 1000), hears(gotE, 440),
					cr.Media().Stats().FirstRx.Sub(ans), ce.Media().Stats().FirstRx.Sub(ans))
				if !hears(gotR, 1000) || !hears(gotE, 440) {
					t.Errorf("no two-way audio: caller hears %v, callee hears %v", hears(gotR, 1000), hears(gotE, 440))
				}
				both := tc.iceA && tc.iceB
				if both != selR.IsValid() || both != selE.IsValid() {
					t.Errorf("selected %v / %v with ICE on alice %v, bob %v", selR, selE, tc.iceA, tc.iceB)
				}
				if tc.sameNAT {
					if pr != sip.MediaPathDirect || pe != sip.MediaPathDirect {
						t.Errorf("paths %s/%s, want direct on the LAN", pr, pe)
					}
					lan := func(a netip.AddrPort) bool { return a.Addr() == sa.LocalIP || a.Addr() == sa.LocalIP.Next() }
					if !lan(selR) || !lan(selE) {
						t.Errorf("selected %v / %v, want LAN host addresses", selR, selE)
					}
					// The caller controls: its pair's local candidate is
					// its host address, its offer's c= the NAT's: the
					// updated offer (RFC 8445 §8.1.2) makes the host
					// address the default. The callee sends none.
					callerIP, calleeIP := sa.LocalIP, sa.LocalIP.Next()
					if !tc.aliceCalls {
						callerIP, calleeIP = calleeIP, callerIP
					}
					if n := inv.count("typ srflx", "c=IN IP4 "+callerIP.String()+"\r\n", "a=remote-candidates:1 "+calleeIP.String()+" "); n != 1 {
						t.Errorf("%d updated offers with c=%v and a=remote-candidates from the caller, want 1 (INVITEs: %d)", n, callerIP, inv.count(""))
					}
					if n := inv.count("", "c=IN IP4 "+calleeIP.String()+"\r\n"); n != 0 {
						t.Errorf("%d INVITEs with c=%v from the controlled callee, want none", n, calleeIP)
					}
				}
				_ = cr.Hangup()
				_ = caller.state(cr, sip.StateEnded)
			})
		})
	}
}

// TestICERelay is the pair no direct ICE pair serves: alice behind a
// port-restricted cone NAT with a TURN relay configured, bob behind a
// symmetric NAT with STUN only (no relay), both doing ICE, the liveness
// rule off on both so only ICE can find the path. Bob's STUN port is
// valid only towards his STUN server and his checks to alice's
// addresses come from fresh ports her NAT filters; alice offers her
// warm standby allocation as a relayed candidate, bob's checks reach it,
// alice checks his new port back through the relay, the relayed pair is
// selected, alice's media moves onto the relay, and audio flows both
// ways, whoever calls.
func TestICERelay(t *testing.T) {
	for _, aliceCalls := range []bool{true, false} {
		name := "bob-calls"
		if aliceCalls {
			name = "alice-calls"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				inv, alice, bob, _ := iceRelaySetup(t, nil)
				caller, callee, user := bob, alice, "alice"
				if aliceCalls {
					caller, callee, user = alice, bob, "bob"
				}
				cr, ce := answered(t, caller, callee, user)
				gotR, gotE := talkBoth(cr, ce, 440, 1000, 6*time.Second)
				ca, cb := cr, ce
				if !aliceCalls {
					ca, cb = ce, cr
				}
				path, reason := ca.MediaPath()
				ans := answeredAt(cr, ce)
				t.Logf("%s: alice selected %v (path %s: %s), bob selected %v; caller hears %v, callee hears %v; first audio after the answer: alice %v, bob %v",
					name, ca.ICESelected(), path, reason, cb.ICESelected(), hears(gotR, 1000), hears(gotE, 440),
					ca.Media().Stats().FirstRx.Sub(ans), cb.Media().Stats().FirstRx.Sub(ans))
				if !hears(gotR, 1000) || !hears(gotE, 440) {
					t.Errorf("no two-way audio: caller hears %v, callee hears %v", hears(gotR, 1000), hears(gotE, 440))
				}
				if path != sip.MediaPathRelay {
					t.Errorf("alice's media path %s, want the relay ICE selected", path)
				}
				if !ca.ICESelected().IsValid() || !cb.ICESelected().IsValid() {
					t.Errorf("selected %v / %v, want a pair on both sides", ca.ICESelected(), cb.ICESelected())
				}
				// Alice calling controls: her selected pair's local
				// candidate is the relay, her offer's c= her NAT's: the
				// updated offer makes the relayed address the default
				// and names bob's end (a=remote-candidates).
				// Called, she is controlled and sends none (bob's own
				// local candidate is peer-reflexive: nothing to offer).
				n := inv.count(" typ host", "a=remote-candidates:1 ", " typ relay")
				if want := map[bool]int{true: 1, false: 0}[aliceCalls]; n != want {
					t.Errorf("%d updated offers with only relayed candidates and a=remote-candidates, want %d", n, want)
				}
				_ = cr.Hangup()
				_ = caller.state(cr, sip.StateEnded)
			})
		})
	}
}

// iceRelaySetup is TestICERelay's world: alice behind a port-restricted
// NAT with TURN (her Mapper made by wrap, when not nil), bob behind a
// symmetric one without, both with ICE, registered to the pbx.
func iceRelaySetup(t *testing.T, wrap func(*portmgr.Manager) portmgr.Mapper) (inv *invites, alice, bob *phone, aliceSite *portmgrtest.Site) {
	w := portmgrtest.NewWorld(t, true)
	sa, sb := w.AddSite(portmgrtest.PortRestrictedCone, 0), w.AddSite(portmgrtest.Symmetric, 0)
	inv = watchInvites(w)
	srv, err := pbx.New(pbx.Config{
		Realm: "pbx.test", Users: map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net: w.PublicNet(pbxAddr.Addr().String()), Listen: pbxAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ua := func(c *sip.Config) { c.ICE, c.MediaTimeout = true, -1 }
	alice = newPhoneWith(t, w, sa, "alice", "a-secret", wrap, ua)
	bob = newPhoneWith(t, w, sb, "bob", "b-secret", nil, ua, func(c *portmgr.Config) { c.TURN = portmgr.TURNConfig{} })
	for _, p := range []*phone{alice, bob} {
		if err := p.registered(); err != nil {
			t.Fatal(err)
		}
	}
	return inv, alice, bob, sa
}

// slowRelay is a port manager whose Relay (the move of a media mapping
// onto its relay) starts only after delay: the window in which a
// controlling peer's re-INVITE reaches a phone whose selected relayed
// pair is not yet its mapping's.
type slowRelay struct {
	*portmgr.Manager
	delay time.Duration
}

func (s slowRelay) Relay(ctx context.Context, mp *portmgr.Mapping, peers ...netip.Addr) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Manager.Relay(ctx, mp, peers...)
}

// TestICERelayAnswerDuringMove: bob calls and controls; alice selects
// the relayed pair and her mapping moves onto the relay slowly (2 s).
// A re-INVITE from bob inside that window (baresip sends its updated
// offer the instant it nominated) is answered with the relay as c=/m=,
// as it will be once the move is done: an answer naming alice's mapped
// address took baresip's media off the relay, onto alice's
// port-restricted NAT, which filtered it (lab cell
// ice/baresip-ice-symmetric-to-phoned-port-restricted, 2 of 4 runs
// with no audio to phoned before the fix). Audio flows both ways after.
func TestICERelayAnswerDuringMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inv, alice, bob, sa := iceRelaySetup(t, func(m *portmgr.Manager) portmgr.Mapper { return slowRelay{m, 2 * time.Second} })
		cb, ca := answered(t, bob, alice, "alice")
		for i := 0; !ca.ICESelected().IsValid() && i < 150; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if !ca.ICESelected().IsValid() {
			t.Fatal("alice selected no pair")
		}
		if p, _ := ca.MediaPath(); p == sip.MediaPathRelay {
			t.Fatal("alice's media is on the relay already: the move is not slow")
		}
		if err := cb.Refresh(); err != nil {
			t.Fatalf("bob's re-INVITE: %v", err)
		}
		var as []string
		for i := 0; len(as) < 2 && i < 100; i++ { // Refresh returns once the re-INVITE is sent
			time.Sleep(10 * time.Millisecond)
			inv.mu.Lock()
			as = inv.answers[sa.Public]
			inv.mu.Unlock()
		}
		if p, _ := ca.MediaPath(); p == sip.MediaPathRelay {
			t.Error("alice's move ended before bob's re-INVITE was answered: the test proves nothing")
		}
		if len(as) < 2 {
			t.Fatalf("%d answers from alice, want the first and the re-INVITE's", len(as))
		}
		def, relay := answerDefault(as[len(as)-1])
		if !relay.IsValid() || def != relay {
			t.Errorf("alice's answer during the move: c=/m= %v, her relayed candidate %v; want the relay as the default", def, relay)
		}
		gotB, gotA := talkBoth(cb, ca, 440, 1000, 4*time.Second)
		if p, _ := ca.MediaPath(); p != sip.MediaPathRelay {
			t.Errorf("alice's media path %s, want relay", p)
		}
		if !hears(gotB, 1000) || !hears(gotA, 440) {
			t.Errorf("no two-way audio: bob hears %v, alice hears %v", hears(gotB, 1000), hears(gotA, 440))
		}
		_ = cb.Hangup()
		_ = bob.state(cb, sip.StateEnded)
	})
}

// invites records the INVITEs (initial and re-INVITEs) the WAN carries.
type invites struct {
	mu     sync.Mutex
	bodies []string
	// answers are the 200 OKs with SDP the WAN carried (to the pbx, or
	// to the far end for a re-INVITE it sent directly), keyed by the
	// public IP they came from.
	answers map[netip.Addr][]string
}

func watchInvites(w *portmgrtest.World) *invites {
	inv := &invites{answers: map[netip.Addr][]string{}}
	w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
		dst, ok := c.DestinationAddr().(*net.UDPAddr)
		src, _ := c.SourceAddr().(*net.UDPAddr)
		d := string(c.UserData())
		switch {
		case strings.HasPrefix(d, "INVITE "):
			if !ok || !dst.IP.Equal(pbxAddr.Addr().AsSlice()) {
				break
			}
			inv.mu.Lock()
			inv.bodies = append(inv.bodies, d)
			inv.mu.Unlock()
		case strings.HasPrefix(d, "SIP/2.0 200 ") && strings.Contains(d, "\r\nm=audio ") && src != nil:
			ip, _ := netip.AddrFromSlice(src.IP)
			inv.mu.Lock()
			inv.answers[ip.Unmap()] = append(inv.answers[ip.Unmap()], d)
			inv.mu.Unlock()
		}
		return true
	})
	return inv
}

// count is how many INVITEs the WAN carried from a phone to the pbx
// contain each of with and not without (unless empty).
func (inv *invites) count(without string, with ...string) int {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	n := 0
next:
	for _, b := range inv.bodies {
		if without != "" && strings.Contains(b, without) {
			continue
		}
		for _, w := range with {
			if !strings.Contains(b, w) {
				continue next
			}
		}
		n++
	}
	return n
}

var (
	sdpConn  = regexp.MustCompile(`(?m)^c=IN IP[46] (\S+)\r?$`)
	sdpAudio = regexp.MustCompile(`(?m)^m=audio (\d+) `)
	sdpRelay = regexp.MustCompile(`(?m)^a=candidate:\S+ 1 UDP \d+ (\S+) (\d+) typ relay`)
)

// answerDefault reads a SIP message's SDP: its default RTP destination
// (the last c= and the audio m= port) and its component-1 relayed
// candidate (invalid when it has none).
func answerDefault(msg string) (def, relay netip.AddrPort) {
	if cs := sdpConn.FindAllStringSubmatch(msg, -1); len(cs) > 0 {
		if m := sdpAudio.FindStringSubmatch(msg); m != nil {
			def, _ = netip.ParseAddrPort(net.JoinHostPort(cs[len(cs)-1][1], m[1]))
		}
	}
	if m := sdpRelay.FindStringSubmatch(msg); m != nil {
		relay, _ = netip.ParseAddrPort(net.JoinHostPort(m[1], m[2]))
	}
	return def, relay
}
