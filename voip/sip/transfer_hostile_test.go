package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	siplib "github.com/emiago/sipgo/sip"
)

// rawRequest builds a request to alice (10.0.0.2:5060) from src:5070.
// toTag "" leaves the To without a tag; extra are more header lines.
func rawRequest(method, src, callID, fromTag, toTag string, cseq int, extra []string, ctype, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:alice@10.0.0.2:5060 SIP/2.0\r\n", method)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s:5070;branch=z9hG4bK%s%d%s\r\n", src, method, cseq, callID)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:bob@pbx.test>;tag=%s\r\n", fromTag)
	if toTag != "" {
		fmt.Fprintf(&b, "To: <sip:alice@pbx.test>;tag=%s\r\n", toTag)
	} else {
		b.WriteString("To: <sip:alice@pbx.test>\r\n")
	}
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:x@%s:5070>\r\n", callID, cseq, method, src)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", ctype)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// exchange sends msg to alice and returns the final status it got.
func exchange(t *testing.T, conn net.PacketConn, msg []byte) int {
	t.Helper()
	alice := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
	if _, err := conn.WriteTo(msg, alice); err != nil {
		t.Fatal(err)
	}
	return readFinal(t, conn, msg)
}

// readFinal reads the final response to msg.
func readFinal(t *testing.T, conn net.PacketConn, msg []byte) int {
	t.Helper()
	buf := make([]byte, 65535)
	for {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no final response to:\n%s", msg)
		}
		m, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		if r, ok := m.(*siplib.Response); ok && r.StatusCode >= 200 {
			return r.StatusCode
		}
	}
}

// snapshot is what a refused request must leave as it was.
type snapshot struct {
	calls                 int
	state                 CallState
	localSeq, remoteSeq   uint32
	referIn, referOut     bool
	remoteTag, targetHost string
}

func snap(u *UA, c *Call) snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return snapshot{calls: len(u.Calls()), state: c.state, localSeq: c.d.localSeq, remoteSeq: c.d.remoteSeq,
		referIn: c.referIn != nil, referOut: c.referOut != nil, remoteTag: c.d.remoteTag, targetHost: c.d.target.Host}
}

// TestTransferHostile: REFER, NOTIFY and INVITE with Replaces that come
// from a stranger, name no dialog of ours, or are malformed get 403, 481
// or 400 (603 for a dialog that has ended, 486 for early-only on an
// answered one) and change nothing: no event, no call, no sequence
// number or dialog state moved. 10.0.0.9 is in alice's Allow list (it
// may speak for the peer, as the proxy does); 10.0.0.8 is a stranger.
func TestTransferHostile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil, func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.9/32")} })
		ab, ba := connect(t, tr.a, tr.b, "bob")
		ab.mu.Lock()
		cid, local, remote := ab.id, ab.d.localTag, ab.d.remoteTag
		ab.mu.Unlock()
		peer := listen(t, tr.h9, "10.0.0.9:5070")
		stranger := listen(t, tr.h8, "10.0.0.8:5070")
		before := snap(tr.a.ua, ab)
		referTo := "Refer-To: <sip:carol@pbx.test>"
		fragBody := "SIP/2.0 200 OK\r\n"
		notifyHdrs := []string{"Event: refer", "Subscription-State: terminated;reason=noresource"}
		seq := 100
		for _, tc := range []struct {
			name string
			conn net.PacketConn
			msg  func(seq int) []byte
			want int
		}{
			{"REFER from a stranger", stranger, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.8", cid, remote, local, n, []string{referTo}, "", "")
			}, 403},
			{"REFER outside a dialog from a stranger", stranger, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.8", "nodialog", "x", "", n, []string{referTo}, "", "")
			}, 403},
			{"REFER outside a dialog", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", "nodialog", "x", "", n, []string{referTo}, "", "")
			}, 481},
			{"REFER for an unknown dialog", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", "unknown-dialog", remote, local, n, []string{referTo}, "", "")
			}, 481},
			{"REFER with a wrong tag", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, "wrong", local, n, []string{referTo}, "", "")
			}, 481},
			{"REFER without Refer-To", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n, nil, "", "")
			}, 400},
			{"REFER with two Refer-To", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n, []string{referTo, "Refer-To: <sip:dave@pbx.test>"}, "", "")
			}, 400},
			{"REFER with Refer-To in full and compact form", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n, []string{referTo, "r: <sip:dave@pbx.test>"}, "", "")
			}, 400},
			{"NOTIFY without Event", peer, func(n int) []byte {
				return rawRequest("NOTIFY", "10.0.0.9", cid, remote, local, n, notifyHdrs[1:], "message/sipfrag", fragBody)
			}, 400},
			{"NOTIFY of another event package", peer, func(n int) []byte {
				return rawRequest("NOTIFY", "10.0.0.9", cid, remote, local, n,
					[]string{"Event: dialog", notifyHdrs[1]}, "application/dialog-info+xml", "<x/>")
			}, 489},
			{"REFER to mailto", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n, []string{"Refer-To: <mailto:carol@pbx.test>"}, "", "")
			}, 400},
			{"REFER to an unterminated name", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n, []string{`Refer-To: "carol <sip:carol@pbx.test>`}, "", "")
			}, 400},
			{"REFER with a bad Replaces", peer, func(n int) []byte {
				return rawRequest("REFER", "10.0.0.9", cid, remote, local, n,
					[]string{"Refer-To: <sip:carol@pbx.test?Replaces=abc%3Bto-tag%3D1>"}, "", "")
			}, 400},
			{"NOTIFY with no subscription", peer, func(n int) []byte {
				return rawRequest("NOTIFY", "10.0.0.9", cid, remote, local, n, notifyHdrs, "message/sipfrag", fragBody)
			}, 481},
			{"NOTIFY for an unknown dialog", peer, func(n int) []byte {
				return rawRequest("NOTIFY", "10.0.0.9", "unknown-dialog", remote, local, n, notifyHdrs, "message/sipfrag", fragBody)
			}, 481},
			{"INVITE replacing an unknown dialog", peer, func(n int) []byte {
				return rawRequest("INVITE", "10.0.0.9", fmt.Sprintf("rep-%d", n), "f", "", n,
					[]string{"Replaces: unknown-dialog;to-tag=" + local + ";from-tag=" + remote}, "", "")
			}, 481},
			{"INVITE replacing with swapped tags", peer, func(n int) []byte {
				return rawRequest("INVITE", "10.0.0.9", fmt.Sprintf("rep-%d", n), "f", "", n,
					[]string{"Replaces: " + cid + ";to-tag=" + remote + ";from-tag=" + local}, "", "")
			}, 481},
			{"INVITE with a malformed Replaces", peer, func(n int) []byte {
				return rawRequest("INVITE", "10.0.0.9", fmt.Sprintf("rep-%d", n), "f", "", n,
					[]string{"Replaces: " + cid + ";to-tag=" + local}, "", "")
			}, 400},
			{"INVITE with early-only for an answered call", peer, func(n int) []byte {
				return rawRequest("INVITE", "10.0.0.9", fmt.Sprintf("rep-%d", n), "f", "", n,
					[]string{"Replaces: " + cid + ";to-tag=" + local + ";from-tag=" + remote + ";early-only"}, "", "")
			}, 486},
		} {
			seq++
			if got := exchange(t, tc.conn, tc.msg(seq)); got != tc.want {
				t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
			}
			synctest.Wait()
			if now := snap(tr.a.ua, ab); now != before {
				t.Errorf("%s changed the call: %+v, was %+v", tc.name, now, before)
			}
			for len(tr.a.evs) > 0 {
				switch ev := (<-tr.a.evs).(type) {
				case *ReferredCallEvent, *TransferEvent, *IncomingCallEvent, *CallEvent:
					t.Errorf("%s: event %T %+v", tc.name, ev, ev)
				}
			}
		}

		// A dialog that has ended: 603 (RFC 3891 §3).
		ba.Hangup()
		waitDone(t, ab)
		seq++
		msg := rawRequest("INVITE", "10.0.0.9", "rep-ended", "f", "", seq,
			[]string{"Replaces: " + cid + ";to-tag=" + local + ";from-tag=" + remote}, "", "")
		if got := exchange(t, peer, msg); got != 603 {
			t.Errorf("INVITE replacing an ended dialog: %d, want 603", got)
		}
		synctest.Wait()
		if n := len(tr.a.ua.Calls()); n != 0 {
			t.Errorf("%d calls after the refused INVITE: %v %v", n, tr.a.ua.Calls()[0], tr.a.ua.Calls()[0].State())
		}
	})
}

// TestReplacesEarly: an INVITE with Replaces may take over an early
// dialog we placed (the new call reports it in Replaces) but not one we
// only received, which gets 481 (RFC 3891 §3) and keeps ringing.
func TestReplacesEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil, func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.9/32")} })
		peer := listen(t, tr.h9, "10.0.0.9:5070")
		alice := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}

		// Ours: alice calls carol, who rings.
		ac, err := tr.a.ua.Dial(context.Background(), "carol")
		if err != nil {
			t.Fatal(err)
		}
		tr.c.waitIncoming(t)
		tr.a.waitCall(t, ac, StateRinging)
		ac.mu.Lock()
		cid, local, remote := ac.id, ac.d.localTag, ac.d.remoteTag
		ac.mu.Unlock()
		msg := rawRequest("INVITE", "10.0.0.9", "rep-early-ours", "f", "", 1,
			[]string{"Replaces: " + cid + ";to-tag=" + local + ";from-tag=" + remote + ";early-only"}, "", "")
		if _, err := peer.WriteTo(msg, alice); err != nil {
			t.Fatal(err)
		}
		in := tr.a.waitIncoming(t)
		if in.Replaces() != ac {
			t.Errorf("the new call replaces %v, want %v", in.Replaces(), ac)
		}
		in.Reject(486)
		if got := readFinal(t, peer, msg); got != 486 {
			t.Errorf("final %d, want the 486 we sent", got)
		}

		// Not ours: bob calls alice, who rings; a Replaces for that
		// early dialog is 481 and the call rings on.
		ba, err := tr.b.ua.Dial(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		ab := tr.a.waitIncoming(t)
		tr.b.waitCall(t, ba, StateRinging)
		ab.mu.Lock()
		cid, local, remote = ab.id, ab.d.localTag, ab.d.remoteTag
		ab.mu.Unlock()
		msg = rawRequest("INVITE", "10.0.0.9", "rep-early-theirs", "f", "", 1,
			[]string{"Replaces: " + cid + ";to-tag=" + local + ";from-tag=" + remote}, "", "")
		if got := exchange(t, peer, msg); got != 481 {
			t.Errorf("Replaces for an early dialog we did not place: %d, want 481", got)
		}
		if st := ab.State(); st != StateIncoming {
			t.Errorf("the ringing call is %s", st)
		}
	})
}

// TestReferCompactForm: a REFER from the peer with Refer-To and
// Referred-By in compact form ("r", "b") is accepted: 202, a
// ReferredCallEvent, and carol gets the INVITE with that Referred-By.
func TestReferCompactForm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil, func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.9/32")} })
		ab, _ := connect(t, tr.a, tr.b, "bob")
		ab.mu.Lock()
		cid, local, remote := ab.id, ab.d.localTag, ab.d.remoteTag
		ab.mu.Unlock()
		peer := listen(t, tr.h9, "10.0.0.9:5070")
		msg := rawRequest("REFER", "10.0.0.9", cid, remote, local, 50,
			[]string{"r: <sip:carol@pbx.test>", `b: "Bob \"B\"" <sip:bob@pbx.test>`}, "", "")
		if got := exchange(t, peer, msg); got != 202 {
			t.Fatalf("REFER: %d, want 202", got)
		}
		ref := tr.a.waitReferred(t)
		if ref.Referrer != ab || ref.Target != "sip:carol@pbx.test" {
			t.Errorf("referred call event %+v", ref)
		}
		in := tr.c.waitIncoming(t)
		in.mu.Lock()
		inv := in.inviteReq
		in.mu.Unlock()
		if !hasHeaderValue(inv, "Referred-By", `"Bob \"B\"" <sip:bob@pbx.test>`) {
			t.Errorf("INVITE lacks the REFER's Referred-By:\n%s", inv)
		}
	})
}
