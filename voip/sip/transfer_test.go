package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/pion/transport/v4/vnet"
)

// trio is tools/pbx at 10.0.0.1 with alice (10.0.0.2), bob (10.0.0.3)
// and carol (10.0.0.4) registered to it, and two more hosts for raw
// requests: 10.0.0.8 and 10.0.0.9.
type trio struct {
	pw      *pbxWorld
	a, b, c *phone
	h8, h9  *vnet.Net
}

// newTrio makes the trio; aliceMut, when given, changes alice's Config.
func newTrio(t *testing.T, mutate func(*pbx.Config), aliceMut ...func(*Config)) *trio {
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
	h8, h9 := w.host("10.0.0.8"), w.host("10.0.0.9")
	pw.start(t)
	acct := func(user, pass string) func(*Config) {
		return func(c *Config) {
			c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		}
	}
	aliceCfg := acct("alice", "a-secret")
	if len(aliceMut) > 0 {
		aliceCfg = func(c *Config) {
			acct("alice", "a-secret")(c)
			for _, m := range aliceMut {
				m(c)
			}
		}
	}
	tr := &trio{pw: pw, h8: h8, h9: h9,
		a: newPhone(t, an, aliceCfg),
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
		synctest.Wait() // carol's 180 reached alice, and its NOTIFY bob
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		ac := ref.Call
		tr.a.waitCall(t, ac, StateTalking)
		// Bob sees the progress in order: 100 Trying (RFC 3515 §2.4.4),
		// 180 Ringing, then 200 as the final report.
		var codes []int
		for {
			te := tr.b.waitTransfer(t, ba, false)
			codes = append(codes, te.Code)
			if te.Final {
				break
			}
		}
		if len(codes) != 3 || codes[0] != 100 || codes[1] != 180 || codes[2] != 200 {
			t.Errorf("transfer progress %v, want [100 180 200]", codes)
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

// TestAttendedTransfer: alice calls bob; bob holds her and consults
// carol; bob transfers alice to carol replacing his call with carol
// (REFER with Replaces). Alice's INVITE reaches carol with Replaces
// naming carol's call with bob (and Referred-By bob); carol answers it
// and hangs the replaced call up, as the phone does; alice and carol
// hear each other; both of bob's calls end.
func TestAttendedTransfer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, ba := connect(t, tr.a, tr.b, "bob")
		if err := ba.Hold(); err != nil {
			t.Fatal(err)
		}
		tr.b.waitCall(t, ba, StateHeld)
		bc, cb := connect(t, tr.b, tr.c, "carol")
		if err := ba.TransferReplacing(bc); err != nil {
			t.Fatal(err)
		}
		ref := tr.a.waitReferred(t)
		if ref.Referrer != ab {
			t.Fatalf("referred call event %+v", ref)
		}
		ca := tr.c.waitIncoming(t)
		if ca.Replaces() != cb {
			t.Fatalf("carol's new call replaces %v, want %v", ca.Replaces(), cb)
		}
		ca.mu.Lock()
		inv := ca.inviteReq
		ca.mu.Unlock()
		if !hasHeaderValue(inv, "Referred-By", "sip:bob@pbx.test") {
			t.Errorf("INVITE lacks Referred-By bob:\n%s", inv)
		}
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		if err := cb.Hangup(); err != nil {
			t.Fatal(err)
		}
		ac := ref.Call
		tr.a.waitCall(t, ac, StateTalking)
		if fin := tr.b.waitTransfer(t, ba, true); fin.Code != 200 {
			t.Errorf("final transfer event %+v", fin)
		}
		waitDone(t, ba)
		waitDone(t, bc)
		if ba.EndReason() != "transferred" || bc.EndReason() != "remote hangup" {
			t.Errorf("bob's calls ended %q and %q", ba.EndReason(), bc.EndReason())
		}
		waitDone(t, ab)
		hears(t, ac, ca, "alice-carol")
		if n := len(tr.b.ua.Calls()); n != 0 {
			t.Errorf("bob still has %d calls", n)
		}
	})
}

// TestTransferFails: carol rejects the call bob transferred alice to;
// bob gets the 486 as the final transfer event and keeps alice, still
// held. A REFER the far end refuses (the PBX's echo service takes no
// REFER) is a final event with its status; the call stays up.
func TestTransferFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		_, ba := connect(t, tr.a, tr.b, "bob")
		if err := ba.Hold(); err != nil {
			t.Fatal(err)
		}
		tr.b.waitCall(t, ba, StateHeld)
		if err := ba.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		if err := ba.Transfer("carol"); err != ErrPending {
			t.Errorf("second Transfer while one is open: %v, want ErrPending", err)
		}
		ca := tr.c.waitIncoming(t)
		if err := ca.Reject(486); err != nil {
			t.Fatal(err)
		}
		fin := tr.b.waitTransfer(t, ba, true)
		if fin.Code != 486 {
			t.Errorf("final transfer event %+v, want 486", fin)
		}
		synctest.Wait()
		if st := ba.State(); st != StateHeld {
			t.Errorf("bob's call is %s after a failed transfer, want held", st)
		}

		// A REFER refused outright.
		ce, err := tr.a.ua.Dial(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		tr.a.waitCall(t, ce, StateTalking)
		if err := ce.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		fin = tr.a.waitTransfer(t, ce, true)
		if fin.Code < 400 {
			t.Errorf("refused REFER reported %+v", fin)
		}
		if st := ce.State(); st != StateTalking {
			t.Errorf("echo call is %s after the refused REFER", st)
		}
	})
}

// TestRedirect: bob redirects alice's call to carol (302 with carol as
// Contact); alice's UA follows it and reaches carol, who answers: they
// hear each other. Bob's call ended 302.
func TestRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, err := tr.a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		ba := tr.b.waitIncoming(t)
		if err := ba.Redirect("carol"); err != nil {
			t.Fatal(err)
		}
		if err := ba.Redirect("carol"); err != ErrCallState {
			t.Errorf("second Redirect: %v", err)
		}
		tr.b.waitCall(t, ba, StateEnded)
		if ba.EndCode() != 302 {
			t.Errorf("bob's call ended %d %q", ba.EndCode(), ba.EndReason())
		}
		ca := tr.c.waitIncoming(t)
		if ca.ID() != ab.ID() {
			t.Errorf("the redirected INVITE has Call-ID %s, want %s", ca.ID(), ab.ID())
		}
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		tr.a.waitCall(t, ab, StateTalking)
		hears(t, ab, ca, "alice-carol")
		if _, err := ab.Media(), ab.Redirect("x"); err != ErrCallState {
			t.Errorf("Redirect on an outgoing call: %v", err)
		}
	})
}

// waitDone waits (fake time) for c to end.
func waitDone(t *testing.T, c *Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Minute):
		t.Fatalf("%s did not end", c)
	}
}

// TestTransferNoNotify: the transferee accepts the REFER but its NOTIFYs
// never arrive (the network drops them). A transfer still open when the
// call ends gets a final 487; after 64*T1 without a NOTIFY the transfer
// ends with a final 408 and bob keeps the call.
func TestTransferNoNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		tr.pw.w.w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
			return !strings.HasPrefix(string(c.UserData()), "NOTIFY ")
		})
		_, ba := connect(t, tr.a, tr.b, "bob")
		if err := ba.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		tr.c.waitIncoming(t).Reject(486)
		ba.Hangup()
		if fin := tr.b.waitTransfer(t, ba, true); fin.Code != 487 {
			t.Errorf("transfer open at hangup ended %+v, want 487", fin)
		}

		_, ba = connect(t, tr.a, tr.b, "bob")
		if err := ba.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		tr.c.waitIncoming(t)
		start := time.Now()
		fin := tr.b.waitTransfer(t, ba, true)
		if fin.Code != 408 || time.Since(start) < 30*time.Second {
			t.Errorf("final transfer event %+v after %v, want 408 after 64*T1", fin, time.Since(start))
		}
		if st := ba.State(); st != StateTalking {
			t.Errorf("bob's call is %s", st)
		}
	})
}

// TestRedirectLoop: bob redirects alice's call to carol, and carol back
// to bob. Alice's UA follows one hop only: the second 302 ends the call
// (EndCode 302) instead of ringing bob again.
func TestRedirectLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, err := tr.a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.b.waitIncoming(t).Redirect("carol"); err != nil {
			t.Fatal(err)
		}
		before := countStarts(tr.pw.w, "INVITE sip:bob@")
		if err := tr.c.waitIncoming(t).Redirect("bob"); err != nil {
			t.Fatal(err)
		}
		waitDone(t, ab)
		if ab.EndCode() != 302 {
			t.Errorf("alice's call ended %d %q, want 302", ab.EndCode(), ab.EndReason())
		}
		synctest.Wait()
		if n := len(tr.b.ua.Calls()); n != 0 {
			t.Errorf("bob rang again: %d calls", n)
		}
		if n := countStarts(tr.pw.w, "INVITE sip:bob@") - before; n != 0 {
			t.Errorf("%d INVITEs for bob after carol's 302, want none", n)
		}
	})
}

// TestBlindTransferByCaller: the roles the other way round: bob placed
// the call to alice and transfers her to carol; alice (the callee of that
// dialog) accepts, NOTIFYs back along it, and ends up with carol.
func TestBlindTransferByCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ba, ab := connect(t, tr.b, tr.a, "alice")
		if err := ba.Transfer("carol"); err != nil {
			t.Fatal(err)
		}
		ref := tr.a.waitReferred(t)
		if ref.Referrer != ab {
			t.Fatalf("referred call event %+v", ref)
		}
		ca := tr.c.waitIncoming(t)
		if err := ca.Answer(); err != nil {
			t.Fatal(err)
		}
		if fin := tr.b.waitTransfer(t, ba, true); fin.Code != 200 {
			t.Errorf("final transfer event %+v", fin)
		}
		waitDone(t, ba)
		waitDone(t, ab)
		tr.a.waitCall(t, ref.Call, StateTalking)
		hears(t, ref.Call, ca, "alice-carol")
	})
}
