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

// trio is tools/pbx at 10.0.0.1 with alice (10.0.0.2), bob (10.0.0.3)
// and carol (10.0.0.4) registered to it.
type trio struct {
	pw      *pbxWorld
	a, b, c *phone
}

func newTrio(t *testing.T, mutate func(*pbx.Config)) *trio {
	t.Helper()
	w := newWorld(t)
	pn := w.host("10.0.0.1")
	cfg := pbx.Config{
		Realm:  "pbx.test",
		Users:  map[string]string{"alice": "a-secret", "bob": "b-secret", "carol": "c-secret"},
		Net:    pn,
		Listen: netip.MustParseAddrPort("10.0.0.1:5060"),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := pbx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pw := &pbxWorld{w: w, pbx: s}
	an, bn, cn := w.host("10.0.0.2"), w.host("10.0.0.3"), w.host("10.0.0.4")
	pw.start(t)
	acct := func(user, pass string) func(*Config) {
		return func(c *Config) {
			c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		}
	}
	tr := &trio{pw: pw,
		a: newPhone(t, an, acct("alice", "a-secret")),
		b: newPhone(t, bn, acct("bob", "b-secret")),
		c: newPhone(t, cn, acct("carol", "c-secret")),
	}
	for _, p := range []*phone{tr.a, tr.b, tr.c} {
		p.waitReg(t, RegRegistered)
	}
	return tr
}

// call places a call from p to user on q and answers it there.
func connect(t *testing.T, p, q *phone, user string) (out, in *Call) {
	t.Helper()
	out, err := p.ua.Dial(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	in = q.waitIncoming(t)
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	p.waitCall(t, out, StateTalking)
	synctest.Wait() // the ACK confirms the dialog at q
	return out, in
}

// hears checks two-way audio between two calls by content.
func hears(t *testing.T, x, y *Call, what string) {
	t.Helper()
	gotX, gotY := talkBoth(t, x, y, 440, 1000, 2*time.Second)
	if !tone.Contains(tail(gotX, 0.5), 1000, 8000) {
		t.Errorf("%s: %s does not hear 1 kHz", what, x)
	}
	if !tone.Contains(tail(gotY, 0.5), 440, 8000) {
		t.Errorf("%s: %s does not hear 440 Hz", what, y)
	}
}

func (p *phone) waitTransfer(t *testing.T, c *Call, final bool) *TransferEvent {
	t.Helper()
	ev := p.next(t, "transfer event", func(e Event) bool {
		te, ok := e.(*TransferEvent)
		return ok && te.Call == c && (!final || te.Final)
	})
	return ev.(*TransferEvent)
}

func (p *phone) waitReferred(t *testing.T) *ReferredCallEvent {
	t.Helper()
	ev := p.next(t, "referred call", func(e Event) bool { _, ok := e.(*ReferredCallEvent); return ok })
	return ev.(*ReferredCallEvent)
}

// TestBlindTransfer: alice calls bob; bob transfers alice to carol
// (REFER); alice places the call herself, carol answers; bob sees the
// NOTIFY progress end in 200 and his call ends "transferred"; alice and
// carol hear each other.
func TestBlindTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, ba := connect(t, tr.a, tr.b, "bob")
		if err := ba.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		ref := tr.a.waitReferred(t)
		if ref.Referrer != ab || ref.Target != "sip:carol@pbx.test" {
			t.Fatalf("referred call event %+v", ref)
		}
		ca := tr.c.waitIncoming(t)
		if id := ca.Identity(); id.Number != "alice" {
			t.Errorf("carol sees %+v", id)
		}
		first := tr.b.waitTransfer(t, ba, false)
		if first.Code != 100 || first.Final {
			t.Errorf("first NOTIFY reported %+v, want 100 Trying", first)
		}
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		ac := ref.Call
		tr.a.waitCall(t, ac, StateTalking)
		fin := tr.b.waitTransfer(t, ba, true)
		if fin.Code != 200 {
			t.Errorf("final transfer event %+v", fin)
		}
		tr.b.waitCall(t, ba, StateEnded)
		if ba.EndReason() != "transferred" {
			t.Errorf("bob's call ended %q", ba.EndReason())
		}
		tr.a.waitCall(t, ab, StateEnded)
		hears(t, ac, ca, "alice-carol")
		ac.Hangup()
		tr.c.waitCall(t, ca, StateEnded)
	})
}
