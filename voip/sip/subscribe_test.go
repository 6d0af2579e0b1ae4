package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/tools/pbx"
	"github.com/deskphone/phone/voip/dialoginfo"
	"github.com/deskphone/phone/voip/msgsummary"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/transport/v4/vnet"
)

const (
	mwiType    = msgsummary.MediaType
	dialogType = dialoginfo.MediaType
)

// subWorld is tools/pbx at 10.0.0.1 (registrar, proxy and event server)
// and alice's phone at 10.0.0.2, registered.
func subWorld(t *testing.T, mut func(*Config)) (*pbxWorld, *phone) {
	t.Helper()
	pw := newPBXWorld(t, "MD5")
	an := pw.w.host("10.0.0.2")
	pw.start(t)
	p := newPhone(t, an, func(c *Config) {
		c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		if mut != nil {
			mut(c)
		}
	})
	p.waitReg(t, RegRegistered)
	return pw, p
}

func (p *phone) waitSub(t *testing.T, s *Subscription, st SubState) SubStatus {
	t.Helper()
	ev := p.next(t, "subscription "+string(st), func(e Event) bool {
		se, ok := e.(*SubscriptionEvent)
		return ok && se.Sub == s && se.Status.State == st
	})
	return ev.(*SubscriptionEvent).Status
}

func (p *phone) waitMWI(t *testing.T) *MWIEvent {
	t.Helper()
	return p.next(t, "MWI event", func(e Event) bool { _, ok := e.(*MWIEvent); return ok }).(*MWIEvent)
}

func (p *phone) waitDialogState(t *testing.T) *DialogStateEvent {
	t.Helper()
	return p.next(t, "dialog state event", func(e Event) bool { _, ok := e.(*DialogStateEvent); return ok }).(*DialogStateEvent)
}

// pending returns the events buffered now (after synctest.Wait).
func (p *phone) pending() []Event {
	var out []Event
	for {
		select {
		case ev := <-p.evs:
			out = append(out, ev)
		default:
			return out
		}
	}
}

// waitPBXSubs waits (fake time) until the event server holds n
// subscriptions matching f.
func waitPBXSubs(t *testing.T, s *pbx.Server, n int, f func(pbx.EventSub) bool) []pbx.EventSub {
	t.Helper()
	for range 600 {
		synctest.Wait()
		var got []pbx.EventSub
		for _, es := range s.Subscriptions() {
			if f == nil || f(es) {
				got = append(got, es)
			}
		}
		if len(got) == n {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("event server never held %d matching subscriptions: %+v", n, s.Subscriptions())
	return nil
}

func mwiBody(waiting bool, n, o, urgent int) []byte {
	s := &msgsummary.Summary{Waiting: waiting, Account: "sip:alice@pbx.test",
		Classes: map[msgsummary.Class]msgsummary.Counts{msgsummary.Voice: {New: n, Old: o, NewUrgent: urgent}}}
	return s.Marshal()
}

func dialogBody(version int, dialogs string) []byte {
	return []byte(fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:bob@pbx.test">%s</dialog-info>`, version, dialogs))
}

func codesAre(t *testing.T, what string, codes []int, err error, want int) {
	t.Helper()
	if err != nil || len(codes) != 1 || codes[0] != want {
		t.Errorf("%s: NOTIFY answered %v, %v; want [%d]", what, codes, err, want)
	}
}

// TestSubscribeMWI: WatchMWI subscribes (digest), each NOTIFY becomes an
// MWIEvent, a malformed body gets 400 and changes nothing, Close
// unsubscribes.
func TestSubscribeMWI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		s, err := p.ua.WatchMWI("")
		if err != nil {
			t.Fatal(err)
		}
		// Active twice or once: the first NOTIFY may come before the 200.
		p.next(t, "200 to SUBSCRIBE", func(e Event) bool {
			se, ok := e.(*SubscriptionEvent)
			return ok && se.Sub == s && se.Status.State == SubActive && se.Status.Code == 200
		})
		if st := s.Status(); st.Expires != time.Hour || st.State != SubActive {
			t.Errorf("status %+v", st)
		}
		subs := waitPBXSubs(t, pw.pbx, 1, nil)
		if subs[0].Event != "message-summary" || subs[0].User != "alice" {
			t.Errorf("event server holds %+v", subs[0])
		}
		ctx := context.Background()
		codes, err := pw.pbx.Notify(ctx, "message-summary", "alice", mwiType, mwiBody(true, 2, 8, 1))
		codesAre(t, "waiting", codes, err, 200)
		ev := p.waitMWI(t)
		if ev.Sub != s || !ev.Waiting || ev.New != 2 || ev.Old != 8 || ev.Urgent != 1 || ev.Account != "sip:alice@pbx.test" {
			t.Errorf("MWI event %+v", ev)
		}
		for name, body := range map[string]string{
			"bad status":   "Messages-Waiting: perhaps\r\n",
			"absurd count": "Messages-Waiting: yes\r\nVoice-Message: 99999999/0\r\n",
		} {
			codes, err = pw.pbx.Notify(ctx, "message-summary", "alice", mwiType, []byte(body))
			codesAre(t, name, codes, err, 400)
		}
		codes, err = pw.pbx.Notify(ctx, "message-summary", "alice", "text/plain", mwiBody(true, 1, 0, 0))
		codesAre(t, "wrong type", codes, err, 415)
		synctest.Wait()
		for _, e := range p.pending() {
			if _, ok := e.(*MWIEvent); ok {
				t.Errorf("a refused NOTIFY was reported: %+v", e)
			}
		}
		if st := s.Status(); st.State != SubActive {
			t.Errorf("refused NOTIFYs changed the subscription: %+v", st)
		}
		codes, err = pw.pbx.Notify(ctx, "message-summary", "alice", mwiType, mwiBody(false, 0, 10, 0))
		codesAre(t, "read", codes, err, 200)
		if ev := p.waitMWI(t); ev.Waiting || ev.New != 0 || ev.Old != 10 {
			t.Errorf("MWI event %+v", ev)
		}

		// Close unsubscribes: the event server drops the subscription.
		if err := p.ua.Close(); err != nil {
			t.Fatal(err)
		}
		if got := pw.pbx.Subscriptions(); len(got) != 0 {
			t.Errorf("after UA.Close the event server still holds %+v", got)
		}
	})
}

// TestSubscribeRefresh: the subscription is refreshed in its dialog
// before it expires, and a refresh the notifier forgot (481) makes a new
// subscription at once.
func TestSubscribeRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		s, err := p.ua.Subscribe(context.Background(), SubscribeOptions{Event: "message-summary", Target: "alice", Expires: 120 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubActive)
		first := waitPBXSubs(t, pw.pbx, 1, nil)[0]
		// Granted 120 s: refreshed at 90 s (never before half, 30 s
		// before expiry), not before.
		time.Sleep(80 * time.Second)
		synctest.Wait()
		if got := pw.pbx.Subscriptions(); len(got) != 1 || got[0].Subscribes != 1 {
			t.Fatalf("refreshed too early: %+v", got)
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		got := pw.pbx.Subscriptions()
		if len(got) != 1 || got[0].Subscribes != 2 || got[0].CallID != first.CallID {
			t.Fatalf("after 95 s: %+v, want one refresh in dialog %s", got, first.CallID)
		}

		// The notifier restarts and forgets; a NAT change makes the phone
		// refresh now: 481, then a new subscription.
		pw.pbx.ForgetSubscriptions()
		p.ua.ResubscribeAll()
		again := waitPBXSubs(t, pw.pbx, 1, nil)[0]
		if again.CallID == first.CallID || again.Subscribes != 1 {
			t.Errorf("after 481: %+v, want a new dialog", again)
		}
		codes, err := pw.pbx.Notify(context.Background(), "message-summary", "alice", mwiType, mwiBody(true, 1, 0, 0))
		codesAre(t, "new dialog", codes, err, 200)
		ev := p.next(t, "notify", func(e Event) bool { _, ok := e.(*NotifyEvent); return ok }).(*NotifyEvent)
		if ev.Sub != s || ev.ContentType != mwiType || !strings.Contains(string(ev.Body), "Messages-Waiting: yes") {
			t.Errorf("NotifyEvent %+v", ev)
		}
	})
}

// TestSubscribeTerminated: terminated;reason=deactivated makes the phone
// subscribe again at once; reason=rejected ends the subscription.
func TestSubscribeTerminated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		subs, err := p.ua.WatchBLF([]string{"bob"})
		if err != nil {
			t.Fatal(err)
		}
		s := subs[0]
		p.waitSub(t, s, SubActive)
		first := waitPBXSubs(t, pw.pbx, 1, nil)[0]
		ctx := context.Background()
		time.Sleep(time.Minute)
		if err := pw.pbx.Terminate(ctx, "dialog", "bob", "deactivated"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // no time passes: "at once"
		again := pw.pbx.Subscriptions()
		if len(again) != 1 || again[0].CallID == first.CallID {
			t.Fatalf("after deactivated: %+v, want a new subscription at once", again)
		}
		p.waitSub(t, s, SubActive)

		// A notifier that ends each new subscription at once is not
		// answered by a SUBSCRIBE loop: the next waits for the back-off.
		if err := pw.pbx.Terminate(ctx, "dialog", "bob", "timeout"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := pw.pbx.Subscriptions(); len(got) != 0 {
			t.Fatalf("subscribed again at once after a quick end: %+v", got)
		}
		waitPBXSubs(t, pw.pbx, 1, nil)
		p.waitSub(t, s, SubActive)
		if err := pw.pbx.Terminate(ctx, "dialog", "bob", "rejected"); err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubTerminated)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := pw.pbx.Subscriptions(); len(got) != 0 {
			t.Errorf("subscribed again after rejected: %+v", got)
		}
	})
}

// TestBLFDialogStates: dialog-info NOTIFYs become lamp states with the
// dialog ids for a pickup; broken XML gets 400 and changes nothing.
func TestBLFDialogStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		subs, err := p.ua.WatchBLF([]string{"bob", "alice"})
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, subs[0], SubActive)
		waitPBXSubs(t, pw.pbx, 2, func(es pbx.EventSub) bool { return es.Event == "dialog" })
		ctx := context.Background()
		early := `<dialog id="d1" call-id="cid1" local-tag="bt" remote-tag="ct" direction="recipient"><state>early</state>
			<remote><identity display="Carol">sip:carol@pbx.test</identity></remote></dialog>`
		codes, err := pw.pbx.Notify(ctx, "dialog", "bob", dialogType, dialogBody(1, early))
		codesAre(t, "early", codes, err, 200)
		ev := p.waitDialogState(t)
		if ev.Target != "bob" || ev.State != dialoginfo.Ringing || len(ev.Dialogs) != 1 {
			t.Fatalf("event %+v", ev)
		}
		if r, ok := ev.Dialogs[0].Replaces(); !ok || r != "cid1;to-tag=bt;from-tag=ct;early-only" {
			t.Errorf("Replaces %q", r)
		}
		for name, body := range map[string]string{
			"broken":  string(dialogBody(2, early))[:120],
			"doctype": `<!DOCTYPE x [<!ENTITY a "b">]>` + string(dialogBody(2, "")),
			"state":   string(dialogBody(2, `<dialog id="d1"><state>ringing</state></dialog>`)),
		} {
			codes, err = pw.pbx.Notify(ctx, "dialog", "bob", dialogType, []byte(body))
			codesAre(t, name, codes, err, 400)
		}
		synctest.Wait()
		for _, e := range p.pending() {
			if _, ok := e.(*DialogStateEvent); ok {
				t.Errorf("a refused NOTIFY was reported: %+v", e)
			}
		}
		codes, err = pw.pbx.Notify(ctx, "dialog", "bob", dialogType, dialogBody(3, `<dialog id="d1" direction="recipient"><state>confirmed</state></dialog>`))
		codesAre(t, "confirmed", codes, err, 200)
		if ev := p.waitDialogState(t); ev.State != dialoginfo.Busy || ev.Target != "bob" {
			t.Errorf("event %+v", ev)
		}
		codes, err = pw.pbx.Notify(ctx, "dialog", "bob", dialogType, dialogBody(4, ""))
		codesAre(t, "idle", codes, err, 200)
		if ev := p.waitDialogState(t); ev.State != dialoginfo.Idle || len(ev.Dialogs) != 0 {
			t.Errorf("event %+v", ev)
		}

		// Closing one subscription unsubscribes it alone.
		if err := subs[0].Close(); err != nil {
			t.Fatal(err)
		}
		left := waitPBXSubs(t, pw.pbx, 1, nil)
		if left[0].User != "alice" {
			t.Errorf("left %+v", left)
		}
		if st := subs[0].Status(); st.State != SubTerminated {
			t.Errorf("closed subscription: %+v", st)
		}
		if n := len(p.ua.Subscriptions()); n != 1 {
			t.Errorf("UA holds %d subscriptions, want 1", n)
		}
	})
}

// TestUnsolicitedMWINotify: an out-of-dialog message-summary NOTIFY from
// the proxy (as Asterisk sends) is an MWIEvent; a malformed one gets 400.
func TestUnsolicitedMWINotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		ctx := context.Background()
		code, err := pw.pbx.NotifyUnsolicited(ctx, "alice", mwiType, mwiBody(true, 3, 1, 0))
		if err != nil || code != 200 {
			t.Fatalf("unsolicited NOTIFY: %d %v", code, err)
		}
		if ev := p.waitMWI(t); ev.Sub != nil || !ev.Waiting || ev.New != 3 || ev.Old != 1 {
			t.Errorf("MWI event %+v", ev)
		}
		code, err = pw.pbx.NotifyUnsolicited(ctx, "alice", mwiType, []byte("Messages-Waiting: yes\r\nVoice-Message: 1/x\r\n"))
		if err != nil || code != 400 {
			t.Errorf("malformed unsolicited NOTIFY: %d %v, want 400", code, err)
		}
		synctest.Wait()
		for _, e := range p.pending() {
			if _, ok := e.(*MWIEvent); ok {
				t.Errorf("a refused NOTIFY was reported: %+v", e)
			}
		}
	})
}

// rawNotify sends a NOTIFY from a socket on n and returns the status of
// the response (0 when none came).
func rawNotify(t *testing.T, n *vnet.Net, src string, to netip.AddrPort, callID, toTag, fromTag, event, ctype, body string) int {
	t.Helper()
	return rawNotifySeq(t, n, src, to, callID, toTag, fromTag, event, ctype, body, 7)
}

func rawNotifySeq(t *testing.T, n *vnet.Net, src string, to netip.AddrPort, callID, toTag, fromTag, event, ctype, body string, cseq int) int {
	t.Helper()
	c, err := n.ListenPacket("udp4", src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	toH := "<sip:alice@pbx.test>"
	if toTag != "" {
		toH += ";tag=" + toTag
	}
	ev := ""
	if event != "" {
		ev = "Event: " + event + "\r\n"
	}
	ct := ""
	if ctype != "" {
		ct = "Content-Type: " + ctype + "\r\n"
	}
	msg := "NOTIFY sip:alice@" + to.String() + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + src + ";branch=z9hG4bK" + newTag() + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:x@" + src + ">;tag=" + fromTag + "\r\n" +
		"To: " + toH + "\r\n" +
		"Call-ID: " + callID + "\r\n" +
		fmt.Sprintf("CSeq: %d NOTIFY\r\n", cseq) + ev + ct +
		"Subscription-State: active;expires=600\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
	if _, err := c.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(to)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		k, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0
		}
		m, err := siplib.ParseMessage(buf[:k])
		if err != nil {
			continue
		}
		if res, ok := m.(*siplib.Response); ok && res.StatusCode >= 200 {
			return res.StatusCode
		}
	}
}

// TestNotifyStrangerAndUnknown: a stranger's NOTIFY outside a dialog gets
// 403 (admission), and inside one of our subscriptions 403 too; an
// allowed peer's NOTIFY for no subscription gets 481; no Event gets 400.
func TestNotifyStrangerAndUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw := newPBXWorld(t, "MD5")
		an := pw.w.host("10.0.0.2")
		stranger := pw.w.host("10.0.0.9")
		allowed := pw.w.host("10.0.0.8")
		pw.start(t)
		p := newPhone(t, an, func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
			c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.8/32")}
		})
		p.waitReg(t, RegRegistered)
		s, err := p.ua.WatchMWI("")
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubActive)
		ext := p.ua.mapping().External()
		body := string(mwiBody(true, 9, 9, 0))
		s.mu.Lock()
		callID, ourTag, theirTag := s.d.callID, s.d.localTag, s.d.remoteTag
		s.mu.Unlock()

		for _, tc := range []struct {
			name                   string
			n                      *vnet.Net
			src                    string
			callID, toTag, fromTag string
			event                  string
			want                   int
		}{
			{"stranger, unsolicited", stranger, "10.0.0.9:5060", "c1", "", "f1", "message-summary", 403},
			{"stranger, our dialog", stranger, "10.0.0.9:5061", callID, ourTag, theirTag, "message-summary", 403},
			{"stranger, no dialog", stranger, "10.0.0.9:5062", "c2", "t2", "f2", "message-summary", 481},
			{"allowed, no dialog", allowed, "10.0.0.8:5060", "c3", "t3", "f3", "message-summary", 481},
			{"allowed, unsolicited dialog", allowed, "10.0.0.8:5061", "c4", "", "f4", "dialog", 481},
			{"allowed, no Event", allowed, "10.0.0.8:5062", "c5", "t5", "f5", "", 400},
		} {
			if got := rawNotify(t, tc.n, tc.src, ext, tc.callID, tc.toTag, tc.fromTag, tc.event, mwiType, body); got != tc.want {
				t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
			}
		}
		synctest.Wait()
		for _, e := range p.pending() {
			if _, ok := e.(*MWIEvent); ok {
				t.Errorf("a refused NOTIFY was reported: %+v", e)
			}
		}
		if st := s.Status(); st.State != SubActive {
			t.Errorf("refused NOTIFYs changed the subscription: %+v", st)
		}

		// CSeq order in our dialog, from an allowed peer: a new NOTIFY is
		// applied, its retransmission answered 200 but not applied twice,
		// an older one refused 500.
		send := func(src string, cseq int, body string) int {
			return rawNotifySeq(t, allowed, src, ext, callID, ourTag, theirTag, "message-summary", mwiType, body, cseq)
		}
		if got := send("10.0.0.8:5070", 50, string(mwiBody(true, 5, 0, 0))); got != 200 {
			t.Errorf("allowed NOTIFY in our dialog: %d", got)
		}
		if ev := p.waitMWI(t); ev.New != 5 {
			t.Errorf("MWI %+v", ev)
		}
		if got := send("10.0.0.8:5071", 50, string(mwiBody(true, 6, 0, 0))); got != 200 {
			t.Errorf("retransmission: %d, want 200", got)
		}
		if got := send("10.0.0.8:5072", 40, string(mwiBody(true, 7, 0, 0))); got != 500 {
			t.Errorf("older CSeq: %d, want 500", got)
		}
		synctest.Wait()
		for _, e := range p.pending() {
			if ev, ok := e.(*MWIEvent); ok {
				t.Errorf("a retransmitted or stale NOTIFY was applied: %+v", ev)
			}
		}

		// That NOTIFY said expires=600 (the 200 granted 3600): the
		// refresh moves to 510 s (85 %) after it.
		time.Sleep(500 * time.Second)
		synctest.Wait()
		if got := pw.pbx.Subscriptions(); len(got) != 1 || got[0].Subscribes != 1 {
			t.Fatalf("refreshed before 510 s: %+v", got)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if got := pw.pbx.Subscriptions(); len(got) != 1 || got[0].Subscribes != 2 {
			t.Errorf("not refreshed by 520 s after a NOTIFY with expires=600: %+v", got)
		}
		if st := s.Status(); st.Expires != time.Hour {
			t.Errorf("status %+v", st)
		}
	})
}

// TestSubscribeOptionsErrors: bad options are refused before anything is
// sent.
func TestSubscribeOptionsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p := subWorld(t, nil)
		for _, o := range []SubscribeOptions{
			{Event: "", Target: "bob"},
			{Event: "dialog;x", Target: "bob"},
			{Event: "dialog", Target: ""},
			{Event: "dialog", Target: "bob", Accept: []string{"a\r\nX: y"}},
		} {
			if _, err := p.ua.Subscribe(context.Background(), o); err == nil {
				t.Errorf("Subscribe(%+v) accepted", o)
			}
		}
		if n := len(p.ua.Subscriptions()); n != 0 {
			t.Errorf("%d subscriptions left behind", n)
		}
		if _, err := p.ua.Subscribe(context.Background(), SubscribeOptions{Event: "dialog", Target: "bob"}); err != nil {
			t.Fatal(err)
		}
		p.ua.Close()
		if _, err := p.ua.WatchMWI(""); !errors.Is(err, ErrClosed) {
			t.Errorf("WatchMWI after Close: %v", err)
		}
	})
}

// listBody is a resource-list NOTIFY body (RFC 4662) with an RLMI root
// and one dialog-info part per entry of parts (resource user -> dialogs).
func listBody(version int, full bool, parts map[string]string, order ...string) (ctype string, body []byte) {
	const b = "b0undary"
	var sb strings.Builder
	sb.WriteString("--" + b + "\r\nContent-ID: <root@pbx>\r\nContent-Type: application/rlmi+xml\r\n\r\n")
	fmt.Fprintf(&sb, `<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:blf@pbx.test" version="%d" fullState="%t">`, version, full)
	for _, u := range order {
		fmt.Fprintf(&sb, `<resource uri="sip:%s@pbx.test"><name>%s</name><instance id="i-%s" state="active" cid="%s@pbx"/></resource>`, u, u, u, u)
	}
	sb.WriteString("</list>\r\n")
	for _, u := range order {
		sb.WriteString("--" + b + "\r\nContent-ID: <" + u + "@pbx>\r\nContent-Type: application/dialog-info+xml\r\n\r\n")
		fmt.Fprintf(&sb, `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:%s@pbx.test">%s</dialog-info>`+"\r\n", version, u, parts[u])
	}
	sb.WriteString("--" + b + "--\r\n")
	return `multipart/related;type="application/rlmi+xml";start="<root@pbx>";boundary="` + b + `"`, []byte(sb.String())
}

// TestBLFResourceList: one list subscription (Supported: eventlist)
// reports a DialogStateEvent per resource from multipart/related NOTIFYs
// with Require: eventlist; a broken part gets 400 and changes nothing.
func TestBLFResourceList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		s, err := p.ua.WatchBLFList("bob") // the test PBX serves any user's URI
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubActive)
		waitPBXSubs(t, pw.pbx, 1, nil)
		ctx := context.Background()
		ct, body := listBody(1, true, map[string]string{
			"carol": `<dialog id="x" call-id="c9" local-tag="l9" remote-tag="r9" direction="recipient"><state>early</state></dialog>`,
			"dave":  `<dialog id="y"><state>confirmed</state></dialog>`,
		}, "carol", "dave")
		codes, err := pw.pbx.Notify(ctx, "dialog", "bob", ct, body)
		codesAre(t, "list", codes, err, 200)
		got := map[string]string{}
		for range 2 {
			ev := p.waitDialogState(t)
			got[ev.Target] = ev.State
		}
		if got["sip:carol@pbx.test"] != dialoginfo.Ringing || got["sip:dave@pbx.test"] != dialoginfo.Busy {
			t.Errorf("lamps %v", got)
		}
		ct, body = listBody(2, true, map[string]string{"carol": `<dialog id="x"><state>wrong</state></dialog>`}, "carol")
		codes, err = pw.pbx.Notify(ctx, "dialog", "bob", ct, body)
		codesAre(t, "broken part", codes, err, 400)
		ct, body = listBody(2, true, map[string]string{"carol": ""}, "carol")
		codes, err = pw.pbx.Notify(ctx, "dialog", "bob", ct, body)
		codesAre(t, "carol idle", codes, err, 200)
		if ev := p.waitDialogState(t); ev.Target != "sip:carol@pbx.test" || ev.State != dialoginfo.Idle || ev.Name != "carol" {
			t.Errorf("event %+v", ev)
		}
	})
}

// TestSubscribeMWIOverTCP: over SIP/TCP the SUBSCRIBE goes on the
// phone's own connection to the PBX and the NOTIFYs come back on it;
// UA.Close unsubscribes on it.
func TestSubscribeMWIOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pbx.New(pbx.Config{
		Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"}, Net: n,
		Listen: netip.MustParseAddrPort("127.0.0.1:0"), TCP: netip.MustParseAddrPort("127.0.0.1:0"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	p := newPhoneWith(t, portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"),
		SIPPorts: portmgr.Range{Min: 45960, Max: 45969}, MediaPorts: portmgr.Range{Min: 46960, Max: 47059}},
		func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Transport: "tcp",
				Registrar: srv.TCPAddr().String()}
		})
	p.wait = 20 * time.Second
	p.waitReg(t, RegRegistered)
	s, err := p.ua.WatchMWI("")
	if err != nil {
		t.Fatal(err)
	}
	p.waitSub(t, s, SubActive)
	var subs []pbx.EventSub
	for range 200 {
		if subs = srv.Subscriptions(); len(subs) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling real time: loopback sockets
	}
	if len(subs) != 1 {
		t.Fatalf("event server holds %+v", subs)
	}
	codes, err := srv.Notify(context.Background(), "message-summary", "alice", mwiType, mwiBody(true, 1, 2, 0))
	if err == nil && len(codes) == 1 && codes[0] == 500 {
		// The PBX sends its first NOTIFY from a goroutine: it can take
		// the CSeq after this one's and still reach the phone first,
		// which then rightly refuses this one as out of order (RFC 3261
		// §12.2.2). The next one is in order.
		codes, err = srv.Notify(context.Background(), "message-summary", "alice", mwiType, mwiBody(true, 1, 2, 0))
	}
	codesAre(t, "tcp", codes, err, 200)
	if ev := p.waitMWI(t); !ev.Waiting || ev.New != 1 || ev.Old != 2 {
		t.Errorf("MWI %+v", ev)
	}
	if err := p.ua.Close(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Subscriptions(); len(got) != 0 {
		t.Errorf("after Close the event server holds %+v", got)
	}
}

// TestSubscribeIntervalTooBrief: a 423 is answered at once with the
// notifier's Min-Expires.
func TestSubscribeIntervalTooBrief(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		srv, err := pbx.New(pbx.Config{Realm: "pbx.test", Users: map[string]string{"alice": "a-secret"},
			Net: w.host("10.0.0.1"), Listen: netip.MustParseAddrPort("10.0.0.1:5060"), MinExpires: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		an := w.host("10.0.0.2")
		w.start()
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		p := newPhone(t, an, func(c *Config) {
			c.Account = Account{User: "alice", Password: "a-secret", Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		})
		p.waitReg(t, RegRegistered)
		s, err := p.ua.Subscribe(context.Background(), SubscribeOptions{Event: "dialog", Target: "alice", Expires: 2 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ev := p.next(t, "200 to SUBSCRIBE", func(e Event) bool {
			se, ok := e.(*SubscriptionEvent)
			return ok && se.Sub == s && se.Status.Code == 200
		}).(*SubscriptionEvent)
		if st := ev.Status; st.State != SubActive || st.Expires != 10*time.Minute || st.Failures != 0 {
			t.Errorf("status %+v, want active for Min-Expires", st)
		}
	})
}

// TestSubscriptionCloseBounded: with the notifier gone, UA.Close still
// returns within Config.CloseTimeout (fake time) though every
// un-SUBSCRIBE goes unanswered.
func TestSubscriptionCloseBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, func(c *Config) { c.CloseTimeout = 3 * time.Second })
		subs, err := p.ua.WatchBLF([]string{"bob", "alice"})
		if err != nil {
			t.Fatal(err)
		}
		waitPBXSubs(t, pw.pbx, 2, nil)
		pw.pbx.Close()
		start := time.Now()
		p.ua.Close()
		// CloseTimeout, plus the UA's fixed grace for in-flight requests.
		d := time.Since(start)
		t.Logf("Close took %v (fake time)", d)
		if d > 3*time.Second+closeGrace {
			t.Errorf("Close took %v", d)
		}
		for _, s := range subs {
			if st := s.Status(); st.State != SubTerminated {
				t.Errorf("%s: %+v", s.Target(), st)
			}
		}
	})
}

// TestSubscribeViaOutboundProxy: with an outbound proxy the SUBSCRIBE
// (with its loose Route) and the refreshes reach the notifier through it.
func TestSubscribeViaOutboundProxy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, func(c *Config) { c.Account.OutboundProxy = "10.0.0.1:5060" })
		s, err := p.ua.WatchMWI("alice")
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubActive)
		waitPBXSubs(t, pw.pbx, 1, nil)
		p.ua.ResubscribeAll()
		got := waitPBXSubs(t, pw.pbx, 1, func(es pbx.EventSub) bool { return es.Subscribes == 2 })
		if got[0].Event != "message-summary" {
			t.Errorf("%+v", got)
		}
		codes, err := pw.pbx.Notify(context.Background(), "message-summary", "alice", mwiType, mwiBody(true, 1, 1, 1))
		codesAre(t, "via proxy", codes, err, 200)
		if ev := p.waitMWI(t); ev.Urgent != 1 {
			t.Errorf("MWI %+v", ev)
		}
	})
}

// TestPortEventResubscribes: when the line's SIP mapping moves (a NAT
// reboot, a new lease), its subscriptions are refreshed at once, so the
// notifier learns the new Contact (RFC 6665 §4.1.2.1) instead of sending
// MWI and BLF NOTIFYs to the old address until the next refresh.
func TestPortEventResubscribes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw, p := subWorld(t, nil)
		s, err := p.ua.Subscribe(context.Background(), SubscribeOptions{Event: "message-summary", Target: "alice", Expires: 3600 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p.waitSub(t, s, SubActive)
		first := waitPBXSubs(t, pw.pbx, 1, nil)[0]
		p.ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: p.ua.mapping()})
		time.Sleep(time.Second)
		synctest.Wait()
		got := pw.pbx.Subscriptions()
		if len(got) != 1 || got[0].Subscribes != 2 || got[0].CallID != first.CallID {
			t.Fatalf("after the SIP mapping moved: %+v, want a refresh in dialog %s", got, first.CallID)
		}
	})
}
