package sip

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
	"github.com/deskphone/phone/tools/pbx"
)

// newLine is a UA on a port manager the test shares between lines, as
// the daemon runs one UA per line on one manager.
func newLine(t *testing.T, pm *portmgr.Manager, acct Account) *phone {
	t.Helper()
	ua, err := New(Config{Mapper: pm, Account: acct})
	if err != nil {
		t.Fatal(err)
	}
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &phone{ua: ua, pm: pm}
	p.pump = mappertest.NewPump(ua.Events(), 1024, nil)
	p.evs = p.pump.C()
	t.Cleanup(func() {
		ua.Close()
		<-p.pump.Done()
	})
	return p
}

// TestTwoDomains: one phone with two lines, alice@pbx.test and
// alice@other.test (another password), registered at once to tools/pbx
// serving both domains on one port manager. A call to each address
// rings its own line only; the second line places a call, authenticated
// in its own realm. A port event for one line's SIP mapping re-registers
// that line only.
func TestTwoDomains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s, err := pbx.New(pbx.Config{
			Realm:   "pbx.test",
			Users:   map[string]string{"alice": "a-secret", "bob": "b-secret"},
			Domains: map[string]map[string]string{"other.test": {"alice": "o-secret"}},
			Net:     w.host("10.0.0.1"),
			Listen:  netip.MustParseAddrPort("10.0.0.1:5060"),
		})
		if err != nil {
			t.Fatal(err)
		}
		pw := &pbxWorld{w: w, pbx: s}
		an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
		pw.start(t)
		pm := mappertest.NewManager(t, portmgr.Config{Net: an})
		proxy := "10.0.0.1:5060"
		l1 := newLine(t, pm, Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: proxy, OutboundProxy: proxy})
		l2 := newLine(t, pm, Account{User: "alice", Password: "o-secret", Domain: "other.test", Registrar: proxy, OutboundProxy: proxy})
		b := newPhone(t, bn, func(c *Config) {
			c.Account = Account{User: "bob", Password: "b-secret", Domain: "pbx.test", Registrar: proxy, OutboundProxy: proxy}
		})
		for _, p := range []*phone{l1, l2, b} {
			p.waitReg(t, RegRegistered)
		}
		if n1, n2 := len(s.Bindings("alice")), len(s.Bindings("alice@other.test")); n1 != 1 || n2 != 1 {
			t.Fatalf("bindings: %d for alice@pbx.test, %d for alice@other.test", n1, n2)
		}

		for _, tc := range []struct {
			target      string
			ring, quiet *phone
		}{
			{"sip:alice@other.test", l2, l1},
			{"alice", l1, l2},
		} {
			bc, err := b.ua.Dial(context.Background(), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			in := tc.ring.waitIncoming(t)
			if err := in.Answer(); err != nil {
				t.Fatal(err)
			}
			b.waitCall(t, bc, StateTalking)
			hears(t, bc, in, tc.target)
			if n := len(tc.quiet.ua.Calls()); n != 0 {
				t.Errorf("a call to %s reached the other line too", tc.target)
			}
			bc.Hangup()
			waitDone(t, in)
		}

		// The second line calls out in its own realm.
		out, err := l2.ua.Dial(context.Background(), "sip:bob@pbx.test")
		if err != nil {
			t.Fatal(err)
		}
		in := b.waitIncoming(t)
		if id := in.Identity(); id.URI != "sip:alice@other.test" {
			t.Errorf("bob sees %+v", id)
		}
		in.Answer()
		l2.waitCall(t, out, StateTalking)
		out.Hangup()
		waitDone(t, in)

		// A port event for line 1's SIP mapping: line 2 does nothing.
		regs := countStarts(w, "REGISTER ")
		l2.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventFlowFailed, Mapping: l1.ua.mapping()})
		synctest.Wait()
		if n := countStarts(w, "REGISTER "); n != regs {
			t.Errorf("line 2 re-registered for line 1's event (%d REGISTER)", n-regs)
		}
		l1.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventFlowFailed, Mapping: l1.ua.mapping()})
		synctest.Wait()
		if n := countStarts(w, "REGISTER "); n == regs {
			t.Error("line 1 did not re-register for its own event")
		}
	})
}
