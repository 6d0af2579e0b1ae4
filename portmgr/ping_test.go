package portmgr

import (
	"net/netip"
	"testing"
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
