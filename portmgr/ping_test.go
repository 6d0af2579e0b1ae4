package portmgr

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// TestSIPPingEvery: the CRLF ping to the registrar goes every change
// check behind a NAT (or while none is known to be absent), every
// keepalive interval on an address of our own, and not at all to a
// registrar on loopback.
func TestSIPPingEvery(t *testing.T) {
	w := portmgrtest.NewWorld(t, false)
	own := netip.MustParseAddr("203.0.113.7")
	n := w.PublicNet(own.String())
	w.Start()
	m := &Manager{cfg: Config{Net: n, Keepalive: 20 * time.Second, ChangeCheck: 5 * time.Second}}
	local := netip.AddrPortFrom(own, 5060)
	reg := netip.MustParseAddrPort("198.51.100.50:5060")
	for _, tc := range []struct {
		name   string
		remote netip.AddrPort
		seen   netip.AddrPort // the registrar's received/rport
		via    Strategy
		want   time.Duration
	}{
		{"no next hop", netip.AddrPort{}, netip.AddrPort{}, StrategyLocal, pingIdle},
		{"loopback", netip.MustParseAddrPort("127.0.0.1:5060"), netip.MustParseAddrPort("127.0.0.1:5060"), StrategyLocal, pingIdle},
		{"loopback v6", netip.MustParseAddrPort("[::1]:5060"), netip.AddrPort{}, StrategyLocal, pingIdle},
		{"nothing seen yet", reg, netip.AddrPort{}, StrategyLocal, 5 * time.Second},
		{"behind a NAT", reg, netip.MustParseAddrPort("192.0.2.1:40000"), StrategyLocal, 5 * time.Second},
		{"port rewritten", reg, netip.AddrPortFrom(own, 40000), StrategyLocal, 5 * time.Second},
		{"external from STUN", reg, local, StrategySTUN, 5 * time.Second},
		{"own address", reg, local, StrategyLocal, 20 * time.Second},
	} {
		mp := &Mapping{Kind: KindSIP, local: local, remote: tc.remote, rport: tc.seen, via: tc.via}
		if got := m.sipPingEvery(mp); got != tc.want {
			t.Errorf("%s: every %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPingJobSleeps: the SIP flow's CRLF job, with nothing to ping,
// next runs a pingIdle away (an idle phone on a loopback registrar is
// not woken for it); UpdateRemote to a registrar off the host brings
// the next run within a change check, and back to loopback sends it to
// sleep again.
func TestPingJobSleeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := portmgrtest.NewWorld(t, false)
		site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
		w.Start()
		m, err := New(Config{Net: site.Net, DisableLifetimeProbe: true, ChangeCheck: 5 * time.Second,
			SIPPorts: Range{Min: 5060, Max: 5069}, MediaPorts: Range{Min: 20000, Max: 29999}})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		mp, err := m.Map(t.Context(), KindSIP, UDP, netip.MustParseAddrPort("127.0.0.1:5060"))
		if err != nil {
			t.Fatal(err)
		}
		next := func() time.Duration {
			m.mu.Lock()
			j := mp.pingJob
			m.mu.Unlock()
			if j == nil {
				t.Fatal("the SIP flow has no ping job")
			}
			m.sched.mu.Lock()
			defer m.sched.mu.Unlock()
			return time.Until(j.at)
		}
		if d := next(); d < pingIdle-time.Second {
			t.Errorf("to a registrar on loopback the ping job runs in %v, want a pingIdle (%v)", d, pingIdle)
		}
		if err := m.UpdateRemote(mp, netip.MustParseAddrPort("198.51.100.50:5060")); err != nil {
			t.Fatal(err)
		}
		if d := next(); d > 5*time.Second {
			t.Errorf("after the registrar moved off the host the ping job runs in %v, want within 5 s", d)
		}
		if err := m.UpdateRemote(mp, netip.MustParseAddrPort("127.0.0.1:5060")); err != nil {
			t.Fatal(err)
		}
		if d := next(); d < pingIdle-time.Second {
			t.Errorf("back on loopback the ping job runs in %v, want a pingIdle", d)
		}
		_ = m.Release(mp)
		m.sched.retime(mp.pingJob) // removed with the mapping: left alone
	})
}

// TestPoolIdleWithoutServers: a warm media pair has a binding to refresh
// only when a STUN server (or a relay) learnt it; with neither, the pool
// schedules no keepalive, so an idle phone is not woken for it, and the
// pair's keepalive starts when a call takes it.
func TestPoolIdleWithoutServers(t *testing.T) {
	for _, stun := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-stun", true: "stun"}[stun], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := portmgrtest.NewWorld(t, false)
				site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
				w.Start()
				cfg := Config{Net: site.Net, DisableLifetimeProbe: true, PoolSize: 2, MediaPorts: Range{Min: 20000, Max: 29999}}
				if stun {
					cfg.STUNServers = []string{w.STUNServer().String()}
				}
				m, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if err := m.Ready(t.Context()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second) // the pool fills
				synctest.Wait()
				pooled := func() (jobs int) {
					m.sched.mu.Lock()
					defer m.sched.mu.Unlock()
					for _, j := range m.sched.jobs {
						if j.owner != nil && j.owner.Kind == KindMedia {
							jobs++
						}
					}
					return jobs
				}
				if n := pooled(); (n > 0) != stun {
					t.Fatalf("%d media keepalive jobs for the warm pool, want some only with a STUN server", n)
				}
				mp, err := m.Map(t.Context(), KindMedia, UDP, netip.MustParseAddrPort("198.51.100.50:4000"))
				if err != nil {
					t.Fatal(err)
				}
				if !mp.kaStarted.Load() {
					t.Fatal("the pair a call took has no keepalive")
				}
				_ = m.Release(mp)
			})
		})
	}
}
