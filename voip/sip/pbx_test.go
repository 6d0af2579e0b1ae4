package sip

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/tools/pbx"
)

// pbxWorld runs tools/pbx at 10.0.0.1 and registers phones to it.
type pbxWorld struct {
	w   *world
	pbx *pbx.Server
}

func newPBXWorld(t *testing.T, algorithm string) *pbxWorld {
	w := newWorld(t)
	pn := w.host("10.0.0.1")
	pw := &pbxWorld{w: w}
	s, err := pbx.New(pbx.Config{
		Realm:     "pbx.test",
		Users:     map[string]string{"alice": "a-secret", "bob": "b-secret"},
		Net:       pn,
		Listen:    netip.MustParseAddrPort("10.0.0.1:5060"),
		Algorithm: algorithm,
	})
	if err != nil {
		t.Fatal(err)
	}
	pw.pbx = s
	return pw
}

func (pw *pbxWorld) start(t *testing.T) {
	pw.w.start()
	if err := pw.pbx.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pw.pbx.Close() })
}

// TestPBXEndToEnd: alice and bob register to tools/pbx with digest; alice
// calls bob through it; two-way audio checked by content; bob hangs up;
// alice calls echo and hears her own tone; alice calls early and hears
// the announcement before the answer (183 + PRACK); a wrong password
// fails cleanly.
func TestPBXEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw := newPBXWorld(t, "SHA-256")
		an := pw.w.host("10.0.0.2")
		bn := pw.w.host("10.0.0.3")
		xn := pw.w.host("10.0.0.4")
		pw.start(t)
		acct := func(user, pass string) func(*Config) {
			return func(c *Config) {
				c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
			}
		}
		a := newPhone(t, an, acct("alice", "a-secret"))
		b := newPhone(t, bn, acct("bob", "b-secret"))
		x := newPhone(t, xn, acct("alice", "wrong"))
		a.waitReg(t, RegRegistered)
		b.waitReg(t, RegRegistered)
		if st := x.waitReg(t, RegFailed); st.Reason != "authentication failed" {
			t.Errorf("wrong password: %+v", st)
		}

		ca, err := a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		cb := b.waitIncoming(t)
		a.next(t, "ringing or early", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && (ce.State == StateRinging || ce.State == StateEarly)
		})
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Error("alice does not hear bob's 1 kHz")
		}
		if !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("bob does not hear alice's 440 Hz")
		}
		cb.Hangup()
		a.waitCall(t, ca, StateEnded)

		// Echo: our own tone comes back.
		ce, err := a.ua.Dial(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ce, StateTalking)
		got := talk(t, ce, 440, 2*time.Second)
		if !tone.Contains(tail(got, 0.5), 440, 8000) {
			t.Error("echo did not return our 440 Hz")
		}
		ce.Hangup()
		a.waitCall(t, ce, StateEnded)

		// Early media with PRACK.
		cl, err := a.ua.Dial(context.Background(), "early")
		if err != nil {
			t.Fatal(err)
		}
		ev := a.waitCall(t, cl, StateEarly)
		if !ev.EarlyMedia || cl.Media() == nil {
			t.Fatal("no early media")
		}
		a.waitCall(t, cl, StateTalking)
		cl.Hangup()
		a.waitCall(t, cl, StateEnded)
	})
}
