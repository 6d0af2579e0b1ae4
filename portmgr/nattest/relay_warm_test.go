package nattest

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/voip/sip"
	"github.com/pion/transport/v4/vnet"
)

// TestRelaySwitchWarm measures the liveness switch of TestRelayFallback's
// pair (alice port-restricted with a relay, bob symmetric, STUN, no
// latching) on a WAN with 20 ms per hop (a round trip between the two
// sites or to the relay is 80 ms), with the warm standby allocation and
// without it, after an answer and after silent early media (183 with
// SDP; alice calls). Both ways must hear each other through the relay;
// the figures (first audio after the answer, synctest's fake clock, so
// exact) go to docs/nat.md. The direct case keeps direct media and gives
// its warm allocation back.
func TestRelaySwitchWarm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		far    portmgrtest.NATKind
		noWarm bool
		early  bool // alice calls, bob sends 183 with SDP and answers 2 s later
		relay  bool
		noPool bool // alice has no warm pool: the call's pair is bound and warmed during the call
	}{
		{"warm", portmgrtest.Symmetric, false, false, true, false},
		{"cold", portmgrtest.Symmetric, true, false, true, false},
		{"warm-early-media", portmgrtest.Symmetric, false, true, true, false},
		{"cold-early-media", portmgrtest.Symmetric, true, true, true, false},
		{"warm-no-pool", portmgrtest.Symmetric, false, false, true, true},
		{"direct-full-cone", portmgrtest.FullCone, false, false, false, false},
		{"direct-full-cone-early-media", portmgrtest.FullCone, false, true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				alice, bob := relaySetupWith(t, tc.far, 0, false, 20*time.Millisecond,
					func(c *portmgr.Config) {
						c.TURN.NoWarm = tc.noWarm
						if tc.noPool {
							c.PoolSize = -1
						}
					})
				if !tc.noPool {
					// Let the warm pool's standby allocations settle.
					time.Sleep(3 * time.Second)
					synctest.Wait()
				}
				var ca, cb *sip.Call // alice's and bob's call
				var err error
				if tc.early {
					ca, err = alice.ua.Dial(context.Background(), "bob")
					if err != nil {
						t.Fatal(err)
					}
					if cb, err = bob.incoming(); err != nil {
						t.Fatal(err)
					}
					if err := cb.Progress(); err != nil {
						t.Fatal(err)
					}
					if err := alice.state(ca, sip.StateEarly); err != nil {
						t.Fatal(err)
					}
				} else {
					cb, err = bob.ua.Dial(context.Background(), "alice")
					if err != nil {
						t.Fatal(err)
					}
					if ca, err = alice.incoming(); err != nil {
						t.Fatal(err)
					}
				}
				var gotA, gotB []int16
				var wg sync.WaitGroup
				talkFor := 5 * time.Second
				if tc.early {
					// Both talk through the early media and the answer.
					wg.Add(2)
					go func() { defer wg.Done(); gotA, _ = talk(ca, 440, talkFor) }()
					go func() { defer wg.Done(); gotB, _ = talk(cb, 1000, talkFor) }()
					time.Sleep(2 * time.Second)
					if err := cb.Answer(); err != nil {
						t.Fatal(err)
					}
				} else {
					if err := ca.Answer(); err != nil {
						t.Fatal(err)
					}
					if err := bob.state(cb, sip.StateTalking); err != nil {
						t.Fatal(err)
					}
					wg.Add(2)
					go func() { defer wg.Done(); gotA, _ = talk(ca, 440, talkFor) }()
					go func() { defer wg.Done(); gotB, _ = talk(cb, 1000, talkFor) }()
				}
				wg.Wait()
				path, reason := ca.MediaPath()
				if (path == sip.MediaPathRelay) != tc.relay {
					t.Errorf("alice's media path %q (%s), want relay=%v", path, reason, tc.relay)
				}
				if !hears(gotA, 1000) || !hears(gotB, 440) {
					t.Errorf("no two-way audio: alice hears %v, bob hears %v", hears(gotA, 1000), hears(gotB, 440))
				}
				answered := ca.Answered()
				if answered.IsZero() {
					answered = cb.Answered()
				}
				sa, sb := ca.Media().Stats(), cb.Media().Stats()
				t.Logf("%s: path %s (%s); first audio after the answer: alice %v, bob %v",
					tc.name, path, reason, sa.FirstRx.Sub(answered), sb.FirstRx.Sub(answered))
				warm, cold := alice.pm.RelaySwitches()
				if tc.relay && (warm == 1) == tc.noWarm {
					t.Errorf("relay switches: %d warm, %d cold; want warm=%v", warm, cold, !tc.noWarm)
				}
				_ = cb.Hangup()
				_ = bob.state(cb, sip.StateEnded)
			})
		})
	}
}

// TestWarmRelayCost measures what keeping the warm standby allocations
// costs an idle phone: one hour (fake clock) behind a port-restricted
// NAT with a relay configured, counting the UDP payload bytes between
// the site and the TURN server, with and without the warm allocations.
// The difference is the figure in docs/nat.md.
func TestWarmRelayCost(t *testing.T) {
	bytesPerHour := func(noWarm bool) (pkts, bytes int64) {
		synctest.Test(t, func(t *testing.T) {
			w := portmgrtest.NewWorld(t, true)
			site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
			turnAddr := w.TURNServerAddr()
			var n, b atomic.Int64
			w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
				src, dst := netip.MustParseAddrPort(c.SourceAddr().String()), netip.MustParseAddrPort(c.DestinationAddr().String())
				if src == turnAddr || dst == turnAddr {
					n.Add(1)
					b.Add(int64(len(c.UserData())))
				}
				return true
			})
			w.Start()
			pm := mappertest.NewManager(t, mappertest.SiteConfig(w, site, func(c *portmgr.Config) { c.TURN.NoWarm = noWarm }))
			mappertest.Ready(t, pm)
			time.Sleep(time.Minute) // the pool and its allocations settle
			synctest.Wait()
			n0, b0 := n.Load(), b.Load()
			time.Sleep(time.Hour)
			synctest.Wait()
			pkts, bytes = n.Load()-n0, b.Load()-b0
			pm.Close()
		})
		return pkts, bytes
	}
	wp, wb := bytesPerHour(false)
	cp, cb := bytesPerHour(true)
	t.Logf("to and from the TURN server per idle hour: warm %d packets, %d bytes; without %d packets, %d bytes; the warm allocations cost %d packets, %d bytes (+28 bytes IPv4/UDP header each: %d bytes on the wire)",
		wp, wb, cp, cb, wp-cp, wb-cb, wb-cb+28*(wp-cp))
	if wb <= cb {
		t.Errorf("warm allocations cost nothing (%d vs %d bytes): were they made?", wb, cb)
	}
}

// TestTURNFailover: alice's first TURN server does not answer (no host
// at its address); the second, in TURNConfig.Fallbacks, does. The warm
// allocation fails over to it and TestRelayFallback's pair gets two-way
// audio through it.
func TestTURNFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		alice, bob := relaySetupWith(t, portmgrtest.Symmetric, 0, false, 0, func(c *portmgr.Config) {
			c.TURN.Fallbacks = []string{c.TURN.Server}
			c.TURN.Server = "198.51.100.99:3478"
		})
		time.Sleep(10 * time.Second) // the pool's allocations fail over
		synctest.Wait()
		cb, ca := answered(t, bob, alice, "alice")
		gotA, gotB := talkBoth(ca, cb, 440, 1000, 4*time.Second)
		path, reason := ca.MediaPath()
		warm, cold := alice.pm.RelaySwitches()
		t.Logf("path %s (%s); switches warm %d cold %d; alice's first audio %v after the answer", path, reason, warm, cold, ca.Media().Stats().FirstRx.Sub(ca.Answered()))
		if path != sip.MediaPathRelay || !hears(gotA, 1000) || !hears(gotB, 440) {
			t.Errorf("path %s, alice hears %v, bob hears %v: want two-way through the fallback relay", path, hears(gotA, 1000), hears(gotB, 440))
		}
		if ext := ca.Media().Stats(); !ext.Latched.IsValid() {
			t.Errorf("alice latched onto nothing")
		}
		_ = cb.Hangup()
		_ = bob.state(cb, sip.StateEnded)
	})
}
