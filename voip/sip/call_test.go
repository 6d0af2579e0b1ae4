package sip

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/vnet"
)

// pair is two UAs on one vnet LAN, A at .2 calling B at .3 directly.
func pair(t *testing.T, ma, mb func(*Config)) (*world, *phone, *phone) {
	return pairIn(t, newWorld(t), ma, mb)
}

// pairIn is pair on a given (not yet started) world.
func pairIn(t *testing.T, w *world, ma, mb func(*Config)) (*world, *phone, *phone) {
	an := w.host("10.0.0.2")
	bn := w.host("10.0.0.3")
	w.start()
	a := newPhone(t, an, func(c *Config) {
		c.Account.User = "a"
		if ma != nil {
			ma(c)
		}
	})
	b := newPhone(t, bn, func(c *Config) {
		c.Account.User = "b"
		if mb != nil {
			mb(c)
		}
	})
	return w, a, b
}

func dial(t *testing.T, a *phone) *Call {
	t.Helper()
	c, err := a.ua.Dial(context.Background(), "sip:b@10.0.0.3:5060")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallRejectBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := cb.Reject(486); err != nil {
			t.Fatal(err)
		}
		ev := a.waitCall(t, ca, StateEnded)
		if ev.Code != 486 {
			t.Errorf("A ended with %d %q, want 486", ev.Code, ev.Reason)
		}
		if cb.EndCode() != 486 {
			t.Errorf("B end code %d", cb.EndCode())
		}
	})
}

func TestCallCancelBeforeAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		a.waitCall(t, ca, StateRinging)
		if err := ca.Hangup(); err != nil {
			t.Fatal(err)
		}
		ev := a.waitCall(t, ca, StateEnded)
		if ev.Code != 487 {
			t.Errorf("A ended with %d %q, want 487", ev.Code, ev.Reason)
		}
		evb := b.waitCall(t, cb, StateEnded)
		if evb.Code != 487 {
			t.Errorf("B ended with %d %q, want 487", evb.Code, evb.Reason)
		}
		synctest.Wait()
		if len(a.ua.Calls())+len(b.ua.Calls()) != 0 {
			t.Error("calls left")
		}
	})
}

func TestCallByeFromCallee(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		cb.Hangup()
		ev := a.waitCall(t, ca, StateEnded)
		if ev.Reason != "remote hangup" {
			t.Errorf("reason %q", ev.Reason)
		}
	})
}

// TestCallEarlyMediaPrack: B sends 183 with SDP reliably (100rel); A
// PRACKs it, creates media on the 183 and hears B's audio before the
// answer; B's 200 waits for the PRACK.
func TestCallEarlyMediaPrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := cb.Progress(); err != nil {
			t.Fatal(err)
		}
		ev := a.waitCall(t, ca, StateEarly)
		if !ev.EarlyMedia {
			t.Error("no EarlyMedia flag")
		}
		if ca.Media() == nil || cb.Media() == nil {
			t.Fatal("no early media session")
		}
		gotA, _ := talkBoth(t, ca, cb, 440, 1000, time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Error("A does not hear B's early audio")
		}
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("no two-way audio after answer")
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}

// TestCallHoldResume: A holds (sendonly, muted) and B stops sending (it
// answers recvonly); both directions stop, and come back on resume.
func TestCallHoldResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		ev := b.next(t, "remote hold", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == cb && ce.RemoteHold
		})
		_ = ev
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Error("A hears B while held")
		}
		if tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("B hears A while held")
		}
		if err := ca.Resume(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		b.next(t, "remote resume", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == cb && !ce.RemoteHold
		})
		gotA, gotB = talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Error("audio did not resume")
		}
		// B holds A: A's direction follows the far end's re-INVITE.
		if err := cb.Hold(); err != nil {
			t.Fatal(err)
		}
		a.next(t, "A sees remote hold", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.RemoteHold
		})
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}

func TestCallDTMF(t *testing.T) {
	for _, info := range []bool{false, true} {
		name := "rfc4733"
		if info {
			name = "info"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Without telephone-event in B's offer/answer, DTMF falls back to INFO.
				noTE := func(c *Config) { c.DTMFInfo = info }
				_, a, b := pair(t, nil, noTE)
				ca := dial(t, a)
				cb := b.waitIncoming(t)
				cb.Answer()
				a.waitCall(t, ca, StateTalking)
				if err := ca.SendDTMF("15#"); err != nil {
					t.Fatal(err)
				}
				if err := cb.SendDTMF("9"); err != nil {
					t.Fatal(err)
				}
				// Keep audio flowing so RTP events are paced.
				var talking sync.WaitGroup
				talking.Go(func() { talk(t, ca, 440, 3*time.Second) })
				talking.Go(func() { talk(t, cb, 1000, 3*time.Second) })
				want := name
				var got []rune
				for len(got) < 3 {
					ev := b.next(t, "DTMF at B", func(e Event) bool { _, ok := e.(*DTMFEvent); return ok }).(*DTMFEvent)
					if ev.Source != want {
						t.Errorf("source %q, want %q", ev.Source, want)
					}
					got = append(got, ev.Digit)
				}
				if string(got) != "15#" {
					t.Errorf("B got %q, want 15#", string(got))
				}
				ev := a.next(t, "DTMF at A", func(e Event) bool { _, ok := e.(*DTMFEvent); return ok }).(*DTMFEvent)
				if ev.Digit != '9' {
					t.Errorf("A got %q", ev.Digit)
				}
				// Hang up only once both talkers are done: a media session
				// closed under a talker is a WriteFrame error.
				talking.Wait()
				ca.Hangup()
				b.waitCall(t, cb, StateEnded)
			})
		})
	}
}

// TestCallNoCommonCodec: B only has PCMA, A only PCMU: 488 before ringing.
func TestCallNoCommonCodec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, _ := pair(t, func(c *Config) { c.Codecs = []string{"PCMU"} }, func(c *Config) { c.Codecs = []string{"PCMA"} })
		ca := dial(t, a)
		ev := a.waitCall(t, ca, StateEnded)
		if ev.Code != 488 {
			t.Errorf("ended %d %q, want 488", ev.Code, ev.Reason)
		}
	})
}

// TestUnknownDialog481: BYE, INFO, re-INVITE and PRACK to nothing get 481;
// OPTIONS gets 200 with Allow, Accept, Supported.
func TestUnknownDialog481(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		pn := w.host("10.0.0.2")
		xn := w.host("10.0.0.9")
		w.start()
		newPhone(t, pn, nil)
		conn, err := xn.ListenPacket("udp4", "10.0.0.9:5070")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
		send := func(method, toTag string) *siplib.Response {
			msg := method + " sip:phone@10.0.0.2 SIP/2.0\r\n" +
				"Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK" + method + toTag + "\r\n" +
				"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=abc\r\nTo: <sip:phone@10.0.0.2>" + toTag + "\r\n" +
				"Call-ID: nothing-" + method + "\r\nCSeq: 5 " + method + "\r\nContact: <sip:x@10.0.0.9:5070>\r\nContent-Length: 0\r\n\r\n"
			if _, err := conn.WriteTo([]byte(msg), to); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			for {
				n, _, err := conn.ReadFrom(buf)
				if err != nil {
					t.Fatal(err)
				}
				m, err := siplib.ParseMessage(buf[:n])
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := m.(*siplib.Response); ok && r.StatusCode >= 200 {
					return r
				}
			}
		}
		for _, m := range []string{"BYE", "INFO", "PRACK", "INVITE"} {
			if r := send(m, ";tag=zz"); r.StatusCode != 481 {
				t.Errorf("%s to no dialog: %d, want 481", m, r.StatusCode)
			}
		}
		r := send("OPTIONS", "")
		if r.StatusCode != 200 || !hasHeaderValue(r, "Allow", "INVITE") || !hasHeaderValue(r, "Accept", "application/sdp") || !hasHeaderValue(r, "Supported", "100rel") {
			t.Errorf("OPTIONS answered %s", r.String())
		}
	})
}

// TestCallSetupTimeout: the far end rings forever; after SetupTimeout
// the call is cancelled.
func TestCallSetupTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, func(c *Config) { c.SetupTimeout = 30 * time.Second }, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		start := time.Now()
		ev := a.waitCall(t, ca, StateEnded)
		if ev.Code != 487 || time.Since(start) < 29*time.Second {
			t.Errorf("ended %d %q after %v", ev.Code, ev.Reason, time.Since(start))
		}
		b.waitCall(t, cb, StateEnded)
	})
}

// TestCallGlare: both re-INVITE at once; one gets 491 and retries after
// the RFC 3261 §14.1 delay; both end up on hold as asked. The LAN delays
// every packet by 10 ms of fake time, so both re-INVITEs are on the wire
// before either arrives (without it B could get A's re-INVITE before it
// sends its own, and Hold would rightly say ErrPending).
func TestCallGlare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, a, b := pairIn(t, newWorldDelay(t, 10*time.Millisecond), nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		// Let A's ACK (10 ms on the wire) confirm the dialog at B.
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		ea := ca.Hold()
		eb := cb.Hold()
		if ea != nil || eb != nil {
			t.Fatal(ea, eb)
		}
		a.waitCall(t, ca, StateHeld)
		b.waitCall(t, cb, StateHeld)
		n491 := 0
		for _, l := range w.sipStarts() {
			if strings.HasPrefix(l, "SIP/2.0 491") {
				n491++
			}
		}
		if n491 < 2 {
			t.Errorf("%d 491 responses on the wire, want one each way (glare)", n491)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}

// TestCallRefreshReinvites checks that Refresh sends a re-INVITE that the
// far end accepts, keeps the call talking with audio both ways, and keeps
// the hold state of a held call.
func TestCallRefreshReinvites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := ca.Refresh(); err == nil {
			t.Fatal("Refresh before answer succeeded")
		}
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		b.waitCall(t, cb, StateTalking)
		if err := ca.Refresh(); err != nil {
			t.Fatal(err)
		}
		a.next(t, "re-INVITE answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.State == StateTalking && ce.Code == 200
		})
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no two-way audio after the refresh re-INVITE")
		}
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		if err := ca.Refresh(); err != nil {
			t.Fatal(err)
		}
		a.next(t, "held refresh answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.Code == 200 && ce.State == StateHeld
		})
		if !ca.UsesMapping(ca.mapping) || ca.UsesMapping(nil) {
			t.Fatal("UsesMapping does not recognise the call's own mapping")
		}
	})
}

// TestReinviteOvertakingAck: the far end's next re-INVITE may reach us
// before its ACK of our 2xx to the previous one (a lost ACK, or each
// message on its own goroutine). Our final response was sent, so the new
// re-INVITE is answered, not refused with 500 (RFC 3261 §14.2), and the
// refresh of a held call reports 200 at once.
func TestReinviteOvertakingAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var mu sync.Mutex
		dropACK := false
		w.w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
			mu.Lock()
			defer mu.Unlock()
			if dropACK && bytes.HasPrefix(c.UserData(), []byte("ACK ")) {
				dropACK = false
				return false
			}
			return true
		})
		_, a, b := pairIn(t, w, nil, nil)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		b.waitCall(t, cb, StateTalking)
		mu.Lock()
		dropACK = true
		mu.Unlock()
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		if err := ca.Refresh(); err != nil {
			t.Fatal(err)
		}
		ev := a.next(t, "held refresh answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.Code != 0
		}).(*CallEvent)
		if ev.Code != 200 || ev.State != StateHeld {
			t.Fatalf("refresh of the held call: %d %s in state %s, want 200 held", ev.Code, ev.Reason, ev.State)
		}
		if cb.State() == StateEnded {
			t.Fatal("B ended the call over the late ACK")
		}
	})
}

// TestReofferKeepsCodec: B prefers G.722 but answered A's offer with
// PCMU (A listed it first). B's later offers (a refresh, as the NAT
// change and the move to a relay send; hold) list PCMU alone, and A's
// answers keep it too, so the far end is never invited to switch codec
// under a media session that cannot: baresip switched to G.722 on a
// relay re-INVITE that listed G.722 first, and the call went silent.
func TestReofferKeepsCodec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, a, b := pair(t, func(c *Config) { c.Codecs = []string{"PCMU", "G722"} }, func(c *Config) { c.Codecs = []string{"G722", "PCMU"} })
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		b.waitCall(t, cb, StateTalking)
		codecs := func(c *Call) (names []string) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, f := range c.localSDP.Media[0].Formats {
				names = append(names, f.Name)
			}
			return names
		}
		if got := codecs(cb); len(got) == 0 || got[0] != "PCMU" {
			t.Fatalf("B's answer: %v, want PCMU first", got)
		}
		synctest.Wait() // A's ACK confirms B's dialog
		if err := cb.Refresh(); err != nil {
			t.Fatal(err)
		}
		b.next(t, "re-INVITE answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == cb && ce.State == StateTalking && ce.Code == 200
		})
		for _, c := range []*Call{cb, ca} { // B's offer, A's answer
			if got := codecs(c); slices.Contains(got, "G722") || !slices.Contains(got, "PCMU") || !slices.Contains(got, "telephone-event") {
				t.Errorf("later SDP of %s lists %v, want PCMU (and telephone-event, CN) only", c.ua.cfg.Account.User, got)
			}
		}
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no two-way audio after the re-INVITE")
		}
		if err := cb.Hold(); err != nil {
			t.Fatal(err)
		}
		b.waitCall(t, cb, StateHeld)
		if got := codecs(cb); slices.Contains(got, "G722") {
			t.Errorf("hold offer lists %v", got)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}
