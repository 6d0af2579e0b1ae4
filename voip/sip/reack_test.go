package sip

import (
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	siplib "github.com/emiago/sipgo/sip"
)

// TestEndedCallFreedWhileReAcking: a far end whose 2xx retransmission
// comes after the call ended (our ACK lost, the far end's Timer G) still
// gets our ACK again, for the 64*T1 the INVITE transaction lives (RFC
// 6026 §8.4); but the call, and with it its media session, is not held
// for that time: it is garbage as soon as it ends. Both for the INVITE's
// 2xx and for a re-INVITE's (hold).
func TestEndedCallFreedWhileReAcking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
		w.start()
		a := newPhone(t, an, func(c *Config) { c.Account.User = "a" })
		body := "v=0\r\no=- 1 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		var mu sync.Mutex
		var oks []*siplib.Response // the 2xx sent, INVITE then re-INVITE
		far := newPeer(t, bn, "10.0.0.3:5060", func(p *peer, req *siplib.Request, from net.Addr) []*siplib.Response {
			switch req.Method {
			case siplib.INVITE:
				res := siplib.NewResponseFromRequest(req, 200, "OK", []byte(body))
				if !req.To().Params.Has("tag") {
					res.To().Params.Add("tag", "far")
				}
				res.AppendHeader(&siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: "b", Host: "10.0.0.3", Port: 5060}})
				res.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
				mu.Lock()
				oks = append(oks, res)
				mu.Unlock()
				return []*siplib.Response{res}
			case siplib.BYE:
				return []*siplib.Response{siplib.NewResponseFromRequest(req, 200, "OK", nil)}
			}
			return nil
		})
		ca := dial(t, a)
		a.waitCall(t, ca, StateTalking)
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		if err := ca.Hangup(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateEnded)
		time.Sleep(time.Second) // the BYE's answer
		synctest.Wait()
		acks := len(far.requests(siplib.ACK))
		if acks != 2 || len(oks) != 2 {
			t.Fatalf("%d ACKs for %d 2xx before the retransmissions, want 2 and 2", acks, len(oks))
		}

		// Nothing holds the ended call for the transactions' 64*T1 (32 s):
		// not their callbacks. (The BYE's own goroutine may, until its
		// answer.)
		wp := weak.Make(ca)
		ca = nil
		for len(a.evs) > 0 {
			<-a.evs // the events name the call
		}
		start := time.Now()
		for time.Since(start) < 5*time.Second && wp.Value() != nil {
			runtime.GC()
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if wp.Value() != nil {
			t.Fatal("the ended call is still reachable 5 s after it ended (a transaction's callback holds it for 64*T1)")
		}

		// The far end retransmits both 2xx: each gets its ACK again.
		to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
		for _, res := range oks {
			if _, err := far.conn.WriteTo([]byte(res.String()), to); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got := far.requests(siplib.ACK)
		if len(got) != 4 {
			t.Fatalf("%d ACKs after the two 2xx were retransmitted, want 4", len(got))
		}
		seqs := func(acks []*siplib.Request) []uint32 {
			var out []uint32
			for _, a := range acks {
				out = append(out, a.CSeq().SeqNo)
			}
			slices.Sort(out)
			return out
		}
		if first, again := seqs(got[:2]), seqs(got[2:]); !slices.Equal(first, again) {
			t.Errorf("re-ACKs for CSeq %v, want the first ACKs' %v", again, first)
		}
	})
}
