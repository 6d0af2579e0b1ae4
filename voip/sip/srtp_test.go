package sip

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/voip/sdp"
	siplib "github.com/emiago/sipgo/sip"
)

// lockedBuf is a log sink shared by goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secKeys returns every key the call sends or hears with now.
func secKeys(c *Call) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return [][]byte{c.sec.current.Local.Key, c.sec.current.Remote.Key}
}

// leaks reports where any of keys appears in s, in any spelling.
func leaks(s string, keys [][]byte) string {
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		for _, enc := range []string{base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k),
			hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)), string(k)} {
			// The first 16 characters of an encoding are enough to say it leaked.
			if i := strings.Index(s, enc[:min(16, len(enc))]); i >= 0 {
				return s[max(0, i-80):min(len(s), i+80)]
			}
		}
	}
	return ""
}

func srtpAcct(user, pass string, policy sdp.Policy, log *lockedBuf) func(*Config) {
	return func(c *Config) {
		c.Account = Account{User: user, Password: pass, Domain: "pbx.test", Registrar: "10.0.0.1:5060"}
		c.SRTP = policy
		c.SRTPOverInsecure = true // tools/pbx speaks UDP
		if log != nil {
			c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
}

// TestSRTPThroughPBX: alice and bob, SRTP required, call each other
// through tools/pbx: audio both ways by content, the suite and keying in
// CallStats with the keys-in-clear warning (UDP signalling); a re-INVITE
// that brings a new key rekeys both directions and the audio goes on; a
// hold and resume keep the keys; and the whole call's debug log, the
// stats and their JSON never show a key.
func TestSRTPThroughPBX(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pw := newPBXWorld(t, "SHA-256")
		an, bn := pw.w.host("10.0.0.2"), pw.w.host("10.0.0.3")
		pw.start(t)
		var logA, logB lockedBuf
		a := newPhone(t, an, srtpAcct("alice", "a-secret", sdp.SRTPRequired, &logA))
		b := newPhone(t, bn, srtpAcct("bob", "b-secret", sdp.SRTPRequired, &logB))
		a.waitReg(t, RegRegistered)
		b.waitReg(t, RegRegistered)

		ca, err := a.ua.Dial(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		cb := b.waitIncoming(t)
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no audio both ways over SRTP")
		}
		st := ca.Stats()
		if st.SRTP == nil || st.SRTP.Suite != sdp.SuiteAEADAES128GCM || st.SRTP.Keying != "sdes" || st.SRTP.TLSSignalling || !st.SRTP.KeysInClear {
			t.Fatalf("alice's security %+v", st.SRTP)
		}
		if st.SRTP.Unprotected < 50 || st.SRTP.AuthFailed != 0 || st.RTP.Dropped != 0 {
			t.Fatalf("alice: srtp %+v, rtp dropped %d", st.SRTP, st.RTP.Dropped)
		}
		first := append(secKeys(ca), secKeys(cb)...)
		if bytes.Equal(first[0], first[2]) || !bytes.Equal(first[0], first[3]) || !bytes.Equal(first[1], first[2]) {
			t.Fatal("keys do not pair up, or both ends drew the same key")
		}

		// Hold and resume: the same keys, no rekey, audio back.
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		if err := ca.Resume(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		// A NAT-change refresh (same keys) keeps the contexts too.
		if err := ca.Refresh(); err != nil {
			t.Fatal(err)
		}
		a.next(t, "refresh answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.Code == 200
		})
		if sa, sb := ca.Stats().SRTP, cb.Stats().SRTP; sa.Rekeys != 0 || sb.Rekeys != 0 {
			t.Fatalf("hold or refresh rekeyed: %+v %+v", sa, sb)
		}

		// Alice re-offers with a fresh key (as a peer that rekeys on
		// every re-INVITE would): bob answers with a fresh key of his own.
		ca.mu.Lock()
		ca.sec.keys = newKeys(sdp.Suites)
		ca.mu.Unlock()
		if err := ca.Refresh(); err != nil {
			t.Fatal(err)
		}
		a.next(t, "re-INVITE answered", func(e Event) bool {
			ce, ok := e.(*CallEvent)
			return ok && ce.Call == ca && ce.Code == 200
		})
		gotA, gotB = talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no audio after the rekey")
		}
		again := append(secKeys(ca), secKeys(cb)...)
		for i := range again {
			if bytes.Equal(again[i], first[i]) {
				t.Fatalf("key %d did not change on the rekeying re-INVITE", i)
			}
		}
		sa, sb := ca.Stats(), cb.Stats()
		if sa.SRTP.Rekeys != 1 || sb.SRTP.Rekeys != 1 {
			t.Fatalf("rekeys: alice %d bob %d", sa.SRTP.Rekeys, sb.SRTP.Rekeys)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)

		keys := append(first, again...)
		if leaks("x "+base64.StdEncoding.EncodeToString(keys[0])+" x", keys) == "" {
			t.Fatal("the leak check does not find a key")
		}
		js, _ := json.Marshal([]CallStats{sa, sb, ca.Stats(), cb.Stats()})
		for what, s := range map[string]string{"alice's log": logA.String(), "bob's log": logB.String(), "stats": string(js)} {
			if l := leaks(s, keys); l != "" {
				t.Errorf("a key in %s: …%s…", what, l)
			}
		}
		// The check can fail: the SDP on the wire does carry the key.
		if !strings.Contains(logA.String(), "answered") || len(logA.String()) < 1000 {
			t.Fatal("the log capture caught nothing")
		}
	})
}

// TestSRTPWrongKeyNoAudio: with a wrong key the far end's packets fail
// authentication: no audio, and they are counted.
func TestSRTPWrongKeyNoAudio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pol := func(c *Config) { c.SRTP, c.SRTPOverInsecure = sdp.SRTPOptional, true }
		_, a, b := pair(t, pol, pol)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		cb.Answer()
		a.waitCall(t, ca, StateTalking)
		// Bob hears with a key alice does not send with.
		cb.mu.Lock()
		wrong := cb.sec.current
		wrong.Remote.Key = bytes.Repeat([]byte{7}, len(wrong.Remote.Key))
		err := cb.sec.prot.Rekey(wrong)
		cb.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		// (The previous, right key is honoured for the first
		// srtp.PrevKeyPackets packets after a rekey: listen after those.)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 3*time.Second)
		if tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("bob hears alice with the wrong key")
		}
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Fatal("alice does not hear bob (his key is right)")
		}
		st := cb.Stats()
		if st.SRTP.AuthFailed < 90 || st.RTP.Dropped < 90 {
			t.Fatalf("bob: srtp %+v, rtp dropped %d", st.SRTP, st.RTP.Dropped)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}

// TestSRTPPolicies: required refuses plain (488 both ways round),
// optional with a plain peer talks in the clear, optional with optional
// is SRTP.
func TestSRTPPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pa, pb sdp.Policy
		code   int // 0: the call is answered
		secure bool
	}{
		{"required calls plain", sdp.SRTPRequired, sdp.SRTPOff, 488, false},
		{"plain calls required", sdp.SRTPOff, sdp.SRTPRequired, 488, false},
		{"optional calls plain", sdp.SRTPOptional, sdp.SRTPOff, 0, false},
		{"plain calls optional", sdp.SRTPOff, sdp.SRTPOptional, 0, false},
		{"optional calls required", sdp.SRTPOptional, sdp.SRTPRequired, 0, true},
		{"optional calls optional", sdp.SRTPOptional, sdp.SRTPOptional, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, a, b := pair(t, func(c *Config) { c.SRTP, c.SRTPOverInsecure = tc.pa, true },
					func(c *Config) { c.SRTP, c.SRTPOverInsecure = tc.pb, true })
				ca := dial(t, a)
				if tc.code != 0 {
					ev := a.waitCall(t, ca, StateEnded)
					if ev.Code != tc.code {
						t.Fatalf("ended %d %q, want %d", ev.Code, ev.Reason, tc.code)
					}
					return
				}
				cb := b.waitIncoming(t)
				cb.Answer()
				a.waitCall(t, ca, StateTalking)
				gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
				if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
					t.Fatal("no audio both ways")
				}
				if sa, sb := ca.Stats().SRTP, cb.Stats().SRTP; (sa != nil) != tc.secure || (sb != nil) != tc.secure {
					t.Fatalf("security alice %+v bob %+v, want secure %v", sa, sb, tc.secure)
				}
				ca.Hangup()
				b.waitCall(t, cb, StateEnded)
			})
		})
	}
}

// TestSRTPRequiredPlainAnswer: a far end that answers our RTP/SAVP offer
// with plain RTP gets a BYE (answer in the 200) or a CANCEL (answer in a
// reliable 183, which completes the offer/answer), and the call ends
// with a reason that says why, without media.
func TestSRTPRequiredPlainAnswer(t *testing.T) {
	for _, in183 := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t)
			an, bn := w.host("10.0.0.2"), w.host("10.0.0.3")
			w.start()
			a := newPhone(t, an, func(c *Config) { c.Account.User = "a"; c.SRTP, c.SRTPOverInsecure = sdp.SRTPRequired, true })
			plain := "v=0\r\no=- 1 1 IN IP4 10.0.0.3\r\ns=-\r\nc=IN IP4 10.0.0.3\r\nt=0 0\r\nm=audio 7000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
			answer := func(req *siplib.Request, code int, reason string) *siplib.Response {
				res := siplib.NewResponseFromRequest(req, code, reason, []byte(plain))
				res.To().Params.Add("tag", "far")
				res.AppendHeader(&siplib.ContactHeader{Address: siplib.Uri{Scheme: "sip", User: "b", Host: "10.0.0.3", Port: 5060}})
				res.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
				return res
			}
			far := newPeer(t, bn, "10.0.0.3:5060", func(p *peer, req *siplib.Request, from net.Addr) []*siplib.Response {
				switch req.Method {
				case siplib.INVITE:
					if !in183 {
						return []*siplib.Response{answer(req, 200, "OK")}
					}
					res := answer(req, 183, "Session Progress")
					res.AppendHeader(siplib.NewHeader("Require", "100rel"))
					res.AppendHeader(siplib.NewHeader("RSeq", "1"))
					return []*siplib.Response{res}
				case siplib.CANCEL:
					inv := p.requests(siplib.INVITE)[0]
					t487 := siplib.NewResponseFromRequest(inv, 487, "Request Terminated", nil)
					t487.To().Params.Add("tag", "far")
					return []*siplib.Response{siplib.NewResponseFromRequest(req, 200, "OK", nil), t487}
				case siplib.BYE, siplib.PRACK:
					return []*siplib.Response{siplib.NewResponseFromRequest(req, 200, "OK", nil)}
				}
				return nil
			})
			ca := dial(t, a)
			ev := a.waitCall(t, ca, StateEnded)
			if !strings.HasPrefix(ev.Reason, "SRTP refused") || ca.Media() != nil {
				t.Fatalf("183 %v: ended %d %q, media %v", in183, ev.Code, ev.Reason, ca.Media())
			}
			time.Sleep(time.Second) // the BYE is sent after the call ended
			synctest.Wait()
			want := siplib.BYE
			if in183 {
				want = siplib.CANCEL
			}
			if len(far.requests(want)) == 0 {
				t.Fatalf("183 %v: no %s", in183, want)
			}
		})
	}
}

func TestSRTPConfig(t *testing.T) {
	for _, tc := range []struct {
		transport string
		policy    sdp.Policy
		insecure  bool
		ok        bool
	}{
		{"udp", sdp.SRTPRequired, false, false},
		{"", sdp.SRTPOptional, false, false},
		{"tcp", sdp.SRTPOptional, true, true},
		{"tls", sdp.SRTPRequired, false, true},
		{"udp", sdp.SRTPOff, false, true},
		{"udp", sdp.Policy(7), true, false},
	} {
		c := Config{Mapper: &countMapper{}, SRTP: tc.policy, SRTPOverInsecure: tc.insecure, Account: Account{Transport: tc.transport}}
		err := c.setDefaults()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrBadConfig)) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
}

// TestSRTPEarlyMedia: the callee's early media (183 with the SDP answer,
// PRACKed) is SRTP and heard; the 200 brings the same keys: no rekey,
// and the talk goes on.
func TestSRTPEarlyMedia(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pol := func(c *Config) { c.SRTP, c.SRTPOverInsecure = sdp.SRTPRequired, true }
		_, a, b := pair(t, pol, pol)
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := cb.Progress(); err != nil {
			t.Fatal(err)
		}
		ev := a.waitCall(t, ca, StateEarly)
		if !ev.EarlyMedia || ca.Media() == nil {
			t.Fatal("no early media")
		}
		gotA, _ := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) {
			t.Fatal("caller does not hear the early SRTP media")
		}
		if s := ca.Stats().SRTP; s == nil || s.Unprotected < 50 {
			t.Fatalf("early media not SRTP: %+v", s)
		}
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no audio both ways after the answer")
		}
		if sa, sb := ca.Stats().SRTP, cb.Stats().SRTP; sa.Rekeys != 0 || sb.Rekeys != 0 {
			t.Fatalf("the 200 rekeyed: %+v %+v", sa, sb)
		}
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
	})
}
