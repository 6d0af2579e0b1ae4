package ice

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/voip/sdp"
)

// TestLite: B is a lite agent (a phone with a public address that
// answers), A our full agent. A controls whatever B's config says
// (RFC 8445 §6.1.1), checks B's host candidate, nominates it; B sends no
// check of its own, answers A's, and selects the pair A nominated. A's
// candidates include one B cannot reach: the lite agent never checks it.
func TestLite(t *testing.T) {
	for _, aCtl := range []bool{true, false} { // A's own idea of its role
		t.Run(map[bool]string{true: "a-offers", false: "a-answers"}[aCtl], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWire()
				au, ap := NewCredentials()
				bu, bp := NewCredentials()
				aSel, bSel := make(chan netip.AddrPort, 8), make(chan netip.AddrPort, 8)
				a, err := New(Config{Write: w.writer(aAddr), LocalUfrag: au, LocalPwd: ap, Controlling: aCtl,
					Remote:   sdp.ICE{Ufrag: bu, Pwd: bp, Lite: true, Candidates: []sdp.Candidate{cand("1", sdp.CandHost, bAddr)}},
					Default:  bAddr,
					OnSelect: func(s Selection) { aSel <- s.Remote }})
				if err != nil {
					t.Fatal(err)
				}
				b, err := New(Config{Write: w.writer(bAddr), LocalUfrag: bu, LocalPwd: bp, Lite: true, Controlling: true,
					Remote:   sdp.ICE{Ufrag: au, Pwd: ap, Candidates: []sdp.Candidate{cand("9", sdp.CandSrflx, dead), cand("1", sdp.CandHost, aAddr)}},
					Default:  dead,
					OnSelect: func(s Selection) { bSel <- s.Remote }})
				if err != nil {
					t.Fatal(err)
				}
				w.mu.Lock()
				w.agents[aAddr], w.agents[bAddr] = a, b
				w.drop[dead] = true
				w.mu.Unlock()
				defer a.Close()
				defer b.Close()
				if got := <-aSel; got != bAddr {
					t.Errorf("A selected %v, want %v", got, bAddr)
				}
				if got := <-bSel; got != aAddr {
					t.Errorf("B selected %v, want A's host %v", got, aAddr)
				}
				time.Sleep(3 * DefaultKeepalive)
				if n := b.Checks(); n != 0 {
					t.Errorf("the lite agent sent %d checks", n)
				}
				if b.Selected() != aAddr || a.Checks() == 0 {
					t.Errorf("after keepalives: B %v, A sent %d checks", b.Selected(), a.Checks())
				}
			})
		})
	}
}
