package ice

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/stun/v3"

	"github.com/deskphone/phone/voip/sdp"
)

// TestMixedFamily: a dual-stack peer (baresip on a host with IPv4 and
// IPv6) lists IPv6 and IPv4 candidates, its IPv6 host one first (highest
// priority), and may put either family in c=. Our base is an IPv4
// socket: only the IPv4 candidates are paired (nothing is ever sent to
// the IPv6 ones), a check arriving from an IPv6 address is neither
// answered nor paired, and the IPv4 pair is selected on both sides,
// whatever the roles. With the peer's c= IPv6 it is our base's family
// (Config.Base), not c='s, that decides.
func TestMixedFamily(t *testing.T) {
	v6host := netip.MustParseAddrPort("[2001:db8::2]:5000")
	v6srflx := netip.MustParseAddrPort("[2001:db8:1::2]:5002")
	for _, tc := range []struct {
		name string
		def  netip.AddrPort // the peer's c=
		aCtl bool
	}{
		{"c=v4-controlling", bAddr, true},
		{"c=v4-controlled", bAddr, false},
		{"c=v6-controlling", v6host, true},
		{"c=v6-controlled", v6host, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWire()
				var mu sync.Mutex
				toV6 := 0 // datagrams A sent to an IPv6 address
				aw := w.writer(aAddr)
				aWrite := func(b []byte, to netip.AddrPort) error {
					if !to.Addr().Is4() {
						mu.Lock()
						toV6++
						mu.Unlock()
					}
					return aw(b, to)
				}
				au, ap := NewCredentials()
				bu, bp := NewCredentials()
				bc := []sdp.Candidate{cand("1", sdp.CandHost, v6host), cand("2", sdp.CandHost, bAddr), cand("3", sdp.CandSrflx, v6srflx)}
				aSel, bSel := make(chan Selection, 4), make(chan Selection, 4)
				a, err := New(Config{Write: aWrite, LocalUfrag: au, LocalPwd: ap, Controlling: tc.aCtl,
					Remote: sdp.ICE{Ufrag: bu, Pwd: bp, Candidates: bc}, Default: tc.def, Base: aAddr,
					OnSelect: func(s Selection) { aSel <- s }})
				if err != nil {
					t.Fatal(err)
				}
				b, err := New(Config{Write: w.writer(bAddr), LocalUfrag: bu, LocalPwd: bp, Controlling: !tc.aCtl,
					Remote: sdp.ICE{Ufrag: au, Pwd: ap, Candidates: []sdp.Candidate{cand("1", sdp.CandHost, aAddr)}}, Default: aAddr, Base: bAddr,
					OnSelect: func(s Selection) { bSel <- s }})
				if err != nil {
					t.Fatal(err)
				}
				w.mu.Lock()
				w.agents[aAddr], w.agents[bAddr] = a, b
				w.mu.Unlock()
				defer b.Close()
				// The peer's check from its IPv6 address (a dual-stack
				// peer checks from both).
				req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(au+":"+bu),
					rawAttr{stun.AttrPriority, []byte{0x7e, 0, 0, 1}}, rawAttr{stun.AttrICEControlled, make([]byte, 8)},
					stun.NewShortTermIntegrity(ap), stun.Fingerprint)
				if err != nil {
					t.Fatal(err)
				}
				if !a.HandleSTUN(req.Raw, v6host) {
					t.Error("the IPv6 check was not taken as ICE's")
				}
				var sa, sb Selection
				select {
				case sa = <-aSel:
				case <-time.After(DefaultGiveUp):
					t.Fatal("A selected no pair")
				}
				select {
				case sb = <-bSel:
				case <-time.After(DefaultGiveUp):
					t.Fatal("B selected no pair")
				}
				if sa.Remote != bAddr || sb.Remote != aAddr {
					t.Errorf("selected %v / %v, want %v / %v", sa.Remote, sb.Remote, bAddr, aAddr)
				}
				if sa.Local != aAddr {
					t.Errorf("A's local candidate %v, want %v (B's XOR-MAPPED-ADDRESS)", sa.Local, aAddr)
				}
				time.Sleep(2 * DefaultKeepalive)
				a.Close()
				mu.Lock()
				n := toV6
				mu.Unlock()
				if n != 0 {
					t.Errorf("A sent %d datagrams to IPv6 addresses from its IPv4 base", n)
				}
				for _, p := range a.pairs {
					if !p.remote.Addr().Is4() {
						t.Errorf("pair with %v on an IPv4 base", p.remote)
					}
				}
			})
		})
	}
}
