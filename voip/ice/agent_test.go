package ice

import (
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/voip/sdp"
)

// wire connects agents in memory: a datagram written to an address
// reaches the agent registered there (as if from the sender's address),
// unless dropped.
type wire struct {
	mu     sync.Mutex
	agents map[netip.AddrPort]*Agent
	drop   map[netip.AddrPort]bool // destinations that lose everything
	sent   int
}

func (w *wire) writer(from netip.AddrPort) func([]byte, netip.AddrPort) error {
	return func(b []byte, to netip.AddrPort) error {
		w.mu.Lock()
		w.sent++
		a, drop := w.agents[to], w.drop[to]
		w.mu.Unlock()
		if a != nil && !drop {
			a.HandleSTUN(b, from)
		}
		return nil
	}
}

var (
	aAddr = netip.MustParseAddrPort("10.0.0.1:4000")
	bAddr = netip.MustParseAddrPort("10.0.0.2:5000")
	dead  = netip.MustParseAddrPort("192.0.2.99:6000")
)

func cand(f string, typ string, a netip.AddrPort) sdp.Candidate {
	return sdp.Candidate{Foundation: f, Component: 1, Transport: "UDP", Priority: LocalPriority(typ, 1), Addr: a, Type: typ}
}

type side struct {
	ufrag, pwd string
	sel        chan netip.AddrPort
	ag         *Agent
}

// agents starts A (at aAddr) and B (at bAddr), each told the other's
// candidates; badPwd gives A a wrong password for B.
func agents(t *testing.T, w *wire, aCtl, bCtl bool, aCands, bCands []sdp.Candidate, badPwd bool) (a, b *side) {
	t.Helper()
	a, b = &side{sel: make(chan netip.AddrPort, 8)}, &side{sel: make(chan netip.AddrPort, 8)}
	a.ufrag, a.pwd = NewCredentials()
	b.ufrag, b.pwd = NewCredentials()
	bpwd := b.pwd
	if badPwd {
		bpwd = "wrongwrongwrongwrongwrong"
	}
	var err error
	a.ag, err = New(Config{Write: w.writer(aAddr), LocalUfrag: a.ufrag, LocalPwd: a.pwd, Controlling: aCtl,
		Remote: sdp.ICE{Ufrag: b.ufrag, Pwd: bpwd, Candidates: bCands}, Default: bCands[0].Addr,
		OnSelect: func(s Selection) { a.sel <- s.Remote }})
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.agents[aAddr] = a.ag
	w.mu.Unlock()
	b.ag, err = New(Config{Write: w.writer(bAddr), LocalUfrag: b.ufrag, LocalPwd: b.pwd, Controlling: bCtl,
		Remote: sdp.ICE{Ufrag: a.ufrag, Pwd: a.pwd, Candidates: aCands}, Default: aCands[0].Addr,
		OnSelect: func(s Selection) { b.sel <- s.Remote }})
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.agents[bAddr] = b.ag
	w.mu.Unlock()
	t.Cleanup(func() { a.ag.Close(); b.ag.Close() })
	return a, b
}

func newWire() *wire {
	return &wire{agents: map[netip.AddrPort]*Agent{}, drop: map[netip.AddrPort]bool{}}
}

// TestSelect: the controlling agent nominates the working pair although
// the default (c=) address and the better-priority candidate are dead;
// both sides select it, and the consent keepalive runs afterwards.
func TestSelect(t *testing.T) {
	for _, roles := range [][2]bool{{true, false}, {false, true}, {true, true}, {false, false}} {
		t.Run("", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWire()
				w.drop[dead] = true
				bc := []sdp.Candidate{cand("9", sdp.CandSrflx, dead), cand("1", sdp.CandHost, bAddr)}
				ac := []sdp.Candidate{cand("1", sdp.CandHost, aAddr)}
				a, b := agents(t, w, roles[0], roles[1], ac, bc, false)
				if got := <-a.sel; got != bAddr {
					t.Errorf("A selected %v, want %v", got, bAddr)
				}
				if got := <-b.sel; got != aAddr {
					t.Errorf("B selected %v, want %v", got, aAddr)
				}
				n := a.ag.Checks()
				time.Sleep(3 * DefaultKeepalive)
				if a.ag.Checks() <= n && b.ag.Checks() <= n {
					t.Errorf("no consent keepalives after selection (%d checks)", a.ag.Checks())
				}
			})
		})
	}
}

// TestBadPassword: responses signed with a password other than the one
// the SDP gave are ignored: nothing is selected, and the agent gives up
// (media stays on the default) instead of checking forever.
func TestBadPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWire()
		a, _ := agents(t, w, true, false, []sdp.Candidate{cand("1", sdp.CandHost, aAddr)}, []sdp.Candidate{cand("1", sdp.CandHost, bAddr)}, true)
		time.Sleep(DefaultGiveUp + time.Second)
		if s := a.ag.Selected(); s.IsValid() {
			t.Errorf("selected %v with a wrong password", s)
		}
		w.mu.Lock()
		before := w.sent
		w.mu.Unlock()
		time.Sleep(time.Minute)
		w.mu.Lock()
		after := w.sent
		w.mu.Unlock()
		// B still answers nothing A can use; A only sends nothing.
		if after-before > 10 {
			t.Errorf("%d datagrams in a minute after giving up", after-before)
		}
	})
}

func TestNewRefusesMissing(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without Write and credentials succeeded")
	}
}

// FuzzHandleSTUN: whatever arrives on the socket, HandleSTUN and the
// agent's goroutine neither panic nor select anything from it.
func FuzzHandleSTUN(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		synctest.Test(t, func(t *testing.T) {
			ag, err := New(Config{Write: func([]byte, netip.AddrPort) error { return nil }, LocalUfrag: "abcd", LocalPwd: "0123456789abcdefghijklmn",
				Remote: sdp.ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba", Candidates: []sdp.Candidate{cand("1", sdp.CandHost, bAddr)}}, Default: bAddr})
			if err != nil {
				t.Fatal(err)
			}
			ag.HandleSTUN(b, bAddr)
			synctest.Wait()
			if s := ag.Selected(); s.IsValid() {
				t.Fatalf("selected %v from junk", s)
			}
			ag.Close()
		})
	})
}

// TestRelayPair: A offers a relayed candidate (its TURN allocation on
// the same socket); B is behind a symmetric NAT that gives its packets
// to the relay a fresh port (bSym) and filters everything else, and A's
// direct path is filtered too. Only the relay works: B's check to A's
// relay arrives through it from bSym, A answers through the relay and
// checks bSym back from the relay (a peer-reflexive pair); both sides
// select it, whichever is controlling, and A's selection says relayed.
func TestRelayPair(t *testing.T) {
	rAddr := netip.MustParseAddrPort("198.51.100.7:50000")
	bSym := netip.MustParseAddrPort("203.0.113.2:61001")
	for _, aCtl := range []bool{true, false} {
		t.Run("", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var a, b *Agent
				var relayedSent int
				get := func() (*Agent, *Agent) { mu.Lock(); defer mu.Unlock(); return a, b }
				// A's direct sends are filtered; its relayed ones reach B
				// only at bSym, the port B's NAT opened towards the relay.
				aWrite := func([]byte, netip.AddrPort) error { return nil }
				aRelay := func(p []byte, to netip.AddrPort) error {
					mu.Lock()
					relayedSent++
					mu.Unlock()
					if _, b := get(); to == bSym && b != nil {
						b.HandleSTUN(p, rAddr)
					}
					return nil
				}
				// B's sends reach A only through the relay.
				bWrite := func(p []byte, to netip.AddrPort) error {
					if a, _ := get(); to == rAddr && a != nil {
						a.HandleRelayedSTUN(p, bSym)
					}
					return nil
				}
				au, ap := NewCredentials()
				bu, bp := NewCredentials()
				bc := []sdp.Candidate{cand("1", sdp.CandHost, bAddr)}
				ac := []sdp.Candidate{cand("1", sdp.CandHost, aAddr),
					{Foundation: "3", Component: 1, Transport: "UDP", Priority: LocalPriority(sdp.CandRelay, 1), Addr: rAddr, Type: sdp.CandRelay}}
				type sel struct {
					r       netip.AddrPort
					relayed bool
				}
				aSel, bSel := make(chan sel, 8), make(chan sel, 8)
				na, err := New(Config{Write: aWrite, Relay: rAddr, WriteRelay: aRelay, LocalUfrag: au, LocalPwd: ap, Controlling: aCtl,
					Remote: sdp.ICE{Ufrag: bu, Pwd: bp, Candidates: bc}, Default: bAddr,
					OnSelect: func(s Selection) { aSel <- sel{s.Remote, s.Relayed} }})
				if err != nil {
					t.Fatal(err)
				}
				nb, err := New(Config{Write: bWrite, LocalUfrag: bu, LocalPwd: bp, Controlling: !aCtl,
					Remote: sdp.ICE{Ufrag: au, Pwd: ap, Candidates: ac}, Default: aAddr,
					OnSelect: func(s Selection) { bSel <- sel{s.Remote, s.Relayed} }})
				if err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				a, b = na, nb
				mu.Unlock()
				defer na.Close()
				defer nb.Close()
				if got := <-aSel; got != (sel{bSym, true}) {
					t.Errorf("A selected %+v, want %v through the relay", got, bSym)
				}
				if got := <-bSel; got != (sel{rAddr, false}) {
					t.Errorf("B selected %+v, want A's relay %v", got, rAddr)
				}
				if !na.SelectedRelayed() || na.Selected() != bSym {
					t.Errorf("A: Selected %v relayed %v", na.Selected(), na.SelectedRelayed())
				}
				mu.Lock()
				defer mu.Unlock()
				if relayedSent == 0 {
					t.Error("nothing sent through the relay")
				}
			})
		})
	}
}

// TestRelayNeedsWriter: a relayed candidate without WriteRelay is a
// config error, not a panic at the first relayed check.
func TestRelayNeedsWriter(t *testing.T) {
	_, err := New(Config{Write: func([]byte, netip.AddrPort) error { return nil }, LocalUfrag: "abcd", LocalPwd: "0123456789abcdefghijklmn",
		Relay:  netip.MustParseAddrPort("198.51.100.7:50000"),
		Remote: sdp.ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba"}})
	if err == nil {
		t.Error("New accepted Relay without WriteRelay")
	}
}
