package nattest

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/sdp"
	"github.com/deskphone/phone/voip/sip"
)

// noLatch is a Mapper for a far end that does no NAT work beyond STUN:
// its media always goes to the address in our SDP, never to where our
// RTP comes from (no symmetric RTP), as baresip with medianat=stun does.
type noLatch struct {
	*portmgr.Manager
	mu    sync.Mutex
	inner map[*portmgr.Mapping]*portmgr.Mapping // ours -> the manager's
	fixed map[*portmgr.Mapping][2]*fixedConn
}

func newNoLatch(m *portmgr.Manager) portmgr.Mapper {
	return &noLatch{Manager: m, inner: map[*portmgr.Mapping]*portmgr.Mapping{}, fixed: map[*portmgr.Mapping][2]*fixedConn{}}
}

func (n *noLatch) Map(ctx context.Context, kind portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	mp, err := n.Manager.Map(ctx, kind, tr, remote)
	if err != nil || kind != portmgr.KindMedia {
		return mp, err
	}
	rtp, rtcp := &fixedConn{PacketConn: mp.Conn}, &fixedConn{PacketConn: mp.RTCPConn, rtcp: true}
	ours := portmgr.NewMapping(kind, tr, rtp, rtcp, mp.Addrs())
	n.mu.Lock()
	n.inner[ours], n.fixed[ours] = mp, [2]*fixedConn{rtp, rtcp}
	n.mu.Unlock()
	return ours, nil
}

func (n *noLatch) UpdateRemote(mp *portmgr.Mapping, remote netip.AddrPort) error {
	n.mu.Lock()
	in, ok := n.inner[mp]
	f := n.fixed[mp]
	n.mu.Unlock()
	if !ok {
		return n.Manager.UpdateRemote(mp, remote)
	}
	f[0].set(remote)
	f[1].set(netip.AddrPortFrom(remote.Addr(), remote.Port()+1))
	return n.Manager.UpdateRemote(in, remote)
}

func (n *noLatch) Release(mp *portmgr.Mapping) error {
	n.mu.Lock()
	in, ok := n.inner[mp]
	delete(n.inner, mp)
	delete(n.fixed, mp)
	n.mu.Unlock()
	if !ok {
		return n.Manager.Release(mp)
	}
	return n.Manager.Release(in)
}

// fixedConn sends everything to the SDP address, whatever the caller asks.
type fixedConn struct {
	net.PacketConn
	rtcp bool
	mu   sync.Mutex
	to   netip.AddrPort
}

func (c *fixedConn) set(to netip.AddrPort) {
	c.mu.Lock()
	c.to = to
	c.mu.Unlock()
}

func (c *fixedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	to := c.to
	c.mu.Unlock()
	if to.IsValid() {
		addr = net.UDPAddrFromAddrPort(to)
	}
	return c.PacketConn.WriteTo(b, addr)
}

// TestRelayFallback is issue 14's first pair: alice behind a
// port-restricted cone NAT (STUN media, a TURN relay configured), bob
// behind a symmetric NAT advertising his STUN address and not latching.
// Alice's RTP dies in bob's NAT (his STUN port is open only to the STUN
// server) and bob's comes from a fresh port alice's NAT filters: silent
// both ways (the control, with the liveness rule off). With the rule,
// alice hears nothing for MediaTimeout after the answer, moves the call
// to her relay and re-INVITEs; bob's RTP reaches the relay from his new
// port, alice latches onto it and both hear each other, and the call
// says media_path relay. A pair that works direct keeps direct media.
func TestRelayFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		far     portmgrtest.NATKind
		relay   bool // the call is expected to move to the relay
		audio   bool
		noTURN  bool // alice has no relay configured
	}{
		{"control-rule-off", -1, portmgrtest.Symmetric, false, false, false},
		{"symmetric-no-latch", 0, portmgrtest.Symmetric, true, true, false},
		{"direct-full-cone", 0, portmgrtest.FullCone, false, true, false},
		{"no-relay-configured", 0, portmgrtest.Symmetric, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				alice, bob := relaySetup(t, tc.far, tc.timeout, tc.noTURN)
				c, ca := answered(t, bob, alice, "alice")
				gotA, gotB := talkBoth(ca, c, 440, 1000, 4*time.Second)
				path, reason := ca.MediaPath()
				if (path == sip.MediaPathRelay) != tc.relay {
					t.Errorf("alice's media path %q (%s), want relay=%v", path, reason, tc.relay)
				}
				heard := hears(gotA, 1000) && hears(gotB, 440)
				if heard != tc.audio {
					t.Errorf("two-way audio %v, want %v (alice hears %v, bob hears %v)", heard, tc.audio, hears(gotA, 1000), hears(gotB, 440))
				}
				if st := ca.Media().Stats(); tc.audio && !st.FirstRx.IsZero() {
					t.Logf("%s: alice's first audio %v after the answer, path %s (%s)", tc.name, st.FirstRx.Sub(ca.Answered()), path, reason)
				}
				if st := c.Media().Stats(); tc.audio && !st.FirstRx.IsZero() {
					t.Logf("%s: bob's first audio %v after the answer", tc.name, st.FirstRx.Sub(ca.Answered()))
				}
				_ = c.Hangup()
				_ = bob.state(c, sip.StateEnded)
			})
		})
	}
}

// relaySetup is setup for TestRelayFallback: alice port-restricted with
// the world's relay and the liveness timeout, bob behind far with STUN
// only (no relay) and no latching.
func relaySetup(t *testing.T, far portmgrtest.NATKind, timeout time.Duration, noTURN bool) (alice, bob *phone) {
	t.Helper()
	return relaySetupWith(t, far, timeout, noTURN, 0, nil)
}

// relaySetupWith is relaySetup with a WAN delay per hop and a change to
// alice's TURN configuration.
func relaySetupWith(t *testing.T, far portmgrtest.NATKind, timeout time.Duration, noTURN bool, delay time.Duration, mod func(*portmgr.Config)) (alice, bob *phone) {
	t.Helper()
	return relaySetupSIP(t, far, timeout, noTURN, delay, mod, nil)
}

// relaySetupSIP is relaySetupWith with a change to both phones' UA
// configuration (SRTP, say).
func relaySetupSIP(t *testing.T, far portmgrtest.NATKind, timeout time.Duration, noTURN bool, delay time.Duration, mod func(*portmgr.Config), sipMod func(*sip.Config)) (alice, bob *phone) {
	t.Helper()
	both := func(c *sip.Config) {
		if sipMod != nil {
			sipMod(c)
		}
	}
	w := portmgrtest.NewWorldDelay(t, true, delay)
	sa, sb := w.AddSite(portmgrtest.PortRestrictedCone, 0), w.AddSite(far, 0)
	pn := w.PublicNet(pbxAddr.Addr().String())
	srv, err := pbx.New(pbx.Config{
		Realm:  "pbx.test",
		Users:  map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net:    pn,
		Listen: pbxAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	alice = newPhoneWith(t, w, sa, "alice", "a-secret", nil, func(c *sip.Config) { both(c); c.MediaTimeout = timeout },
		func(c *portmgr.Config) {
			if noTURN {
				c.TURN = portmgr.TURNConfig{}
			}
			if mod != nil {
				mod(c)
			}
		})
	bob = newPhoneWith(t, w, sb, "bob", "b-secret", newNoLatch, func(c *sip.Config) { both(c); c.MediaTimeout = -1 },
		func(c *portmgr.Config) { c.TURN = portmgr.TURNConfig{} })
	for _, p := range []*phone{alice, bob} {
		if err := p.registered(); err != nil {
			t.Fatal(err)
		}
	}
	return alice, bob
}

// TestRelayFallbackSRTP: the relay move of TestRelayFallback with SRTP
// required on both phones (SDES over UDP, allowed for the test): the
// re-INVITE to the relay keeps the call's security (a new offer may
// change keys, never turn SRTP off), the media through the relay is
// SRTP both ways with nothing failing authentication, and both hear
// each other.
func TestRelayFallbackSRTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		alice, bob := relaySetupSIP(t, portmgrtest.Symmetric, 0, false, 0, nil, func(c *sip.Config) {
			c.SRTP, c.SRTPOverInsecure = sdp.SRTPRequired, true
		})
		c, ca := answered(t, bob, alice, "alice")
		gotA, gotB := talkBoth(ca, c, 440, 1000, 4*time.Second)
		if path, reason := ca.MediaPath(); path != sip.MediaPathRelay {
			t.Errorf("alice's media path %q (%s), want relay", path, reason)
		}
		if !hears(gotA, 1000) || !hears(gotB, 440) {
			t.Errorf("alice hears bob %v, bob hears alice %v, want both", hears(gotA, 1000), hears(gotB, 440))
		}
		for who, call := range map[string]*sip.Call{"alice": ca, "bob": c} {
			sec := call.Stats().SRTP
			switch {
			case sec == nil || sec.Suite == "":
				t.Errorf("%s: no SRTP in the call's stats after the relay move", who)
			case sec.Protected < 100 || sec.Unprotected < 50 || sec.AuthFailed > 1:
				t.Errorf("%s: SRTP %+v, want both ways protected and no authentication failures", who, sec.Stats)
			}
		}
		_ = c.Hangup()
		_ = bob.state(c, sip.StateEnded)
	})
}
