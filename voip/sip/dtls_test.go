package sip

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/transport/v4/vnet"

	"github.com/deskphone/phone/hal/tone"
	"github.com/deskphone/phone/voip/media/dtlssrtp"
	"github.com/deskphone/phone/voip/sdp"
)

// wireTap counts what crosses the world's router: DTLS records (first
// byte 20..63, RFC 7983), and RTP packets by size. A 20 ms PCMU packet
// is 172 bytes in the clear, 188 under AEAD_AES_128_GCM's tag.
type wireTap struct {
	mu    sync.Mutex
	dtls  int
	plain int // RTP packets of plain PCMU's size
	srtp  int // RTP packets of SRTP PCMU's size
}

func tapWire(w *world) *wireTap {
	tap := &wireTap{}
	w.w.WAN.AddChunkFilter(func(c vnet.Chunk) bool {
		d := c.UserData()
		if len(d) == 0 || c.Network() != "udp" {
			return true
		}
		tap.mu.Lock()
		defer tap.mu.Unlock()
		switch {
		case d[0] >= 20 && d[0] <= 63:
			tap.dtls++
		case d[0]>>6 == 2 && len(d) > 1 && d[1]&0x7f == 0: // RTP, PCMU
			switch len(d) {
			case 12 + 160:
				tap.plain++
			case 12 + 160 + 16, 12 + 160 + 10:
				tap.srtp++
			}
		}
		return true
	})
	return tap
}

func (tap *wireTap) counts() (dtls, plain, srtp int) {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.dtls, tap.plain, tap.srtp
}

func dtlsPolicy(p sdp.Policy, k sdp.Keying) func(*Config) {
	return func(c *Config) {
		c.SRTP, c.SRTPKeying = p, k
		c.SRTPOverInsecure = k == sdp.KeyingBoth // tools/pbx speaks UDP
	}
}

// TestDTLSSRTPCall: two UAs with DTLS-SRTP required (over UDP
// signalling, which DTLS keying does not need TLS for) call each other:
// the handshake runs on the media sockets, audio flows both ways by
// content, CallStats shows keying "dtls" without the keys-in-clear
// warning, the wire carries DTLS and SRTP and no plain RTP, and a hold
// and resume keep the association.
func TestDTLSSRTPCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		tap := tapWire(w)
		_, a, b := pairIn(t, w, dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS))
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		gotA, gotB := talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no audio both ways over DTLS-SRTP")
		}
		for who, c := range map[string]*Call{"alice": ca, "bob": cb} {
			st := c.Stats()
			if st.SRTP == nil || st.SRTP.Keying != "dtls" || st.SRTP.Suite != sdp.SuiteAEADAES128GCM || st.SRTP.KeysInClear {
				t.Fatalf("%s's security %+v", who, st.SRTP)
			}
			if st.SRTP.Unprotected < 50 || st.SRTP.AuthFailed != 0 {
				t.Fatalf("%s: srtp %+v", who, st.SRTP)
			}
		}
		if err := ca.Hold(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateHeld)
		if err := ca.Resume(); err != nil {
			t.Fatal(err)
		}
		a.waitCall(t, ca, StateTalking)
		dtls1, _, _ := tap.counts()
		gotA, gotB = talkBoth(t, ca, cb, 440, 1000, 2*time.Second)
		if !tone.Contains(tail(gotA, 0.5), 1000, 8000) || !tone.Contains(tail(gotB, 0.5), 440, 8000) {
			t.Fatal("no audio after hold and resume")
		}
		dtls2, _, _ := tap.counts()
		ca.Hangup()
		b.waitCall(t, cb, StateEnded)
		dtls, plain, srtp := tap.counts()
		t.Logf("wire: %d DTLS, %d plain, %d srtp; alice %+v", dtls, plain, srtp, ca.Stats().SRTP)
		if dtls < 4 || plain != 0 || srtp < 200 {
			t.Fatalf("wire: %d DTLS records, %d plain RTP, %d SRTP", dtls, plain, srtp)
		}
		// Hold and resume ran no new handshake: no DTLS while talking
		// after the resume.
		if dtls2 != dtls1 {
			t.Fatalf("%d DTLS records after the resume, %d before", dtls2, dtls1)
		}
	})
}

// TestDTLSFingerprintMismatch: alice's certificate is not the one her
// offer's fingerprint names (as when a middlebox rewrote the SDP): bob's
// handshake refuses it, the call ends with a reason that says so, and no
// media, plain or secure, is played on either side.
func TestDTLSFingerprintMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		tap := tapWire(w)
		_, a, b := pairIn(t, w, dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS))
		ca := dial(t, a)
		cb := b.waitIncoming(t)
		// The offer is out: alice now presents another certificate.
		other, err := dtlssrtp.NewCertificate()
		if err != nil {
			t.Fatal(err)
		}
		a.ua.dtls.c = other
		if err := cb.Answer(); err != nil {
			t.Fatal(err)
		}
		evB := b.waitCall(t, cb, StateEnded)
		evA := a.waitCall(t, ca, StateEnded)
		// Bob's check refuses the certificate; alice hears his alert.
		// Whichever ends first sends the BYE, so the other may end with
		// "remote hangup".
		cb.mu.Lock()
		errB := cb.sec.dtls.rtp.Err()
		cb.mu.Unlock()
		if !errors.Is(errB, dtlssrtp.ErrFingerprint) {
			t.Fatalf("bob's handshake: %v, want ErrFingerprint", errB)
		}
		if !strings.HasPrefix(evB.Reason, "SRTP refused: DTLS-SRTP") && !strings.HasPrefix(evA.Reason, "SRTP refused: DTLS-SRTP") {
			t.Fatalf("ended: alice %q, bob %q", evA.Reason, evB.Reason)
		}
		if strings.HasPrefix(evB.Reason, "SRTP refused") && !strings.Contains(evB.Reason, "fingerprint") {
			t.Fatalf("bob's reason %q does not name the fingerprint", evB.Reason)
		}
		for who, c := range map[string]*Call{"alice": ca, "bob": cb} {
			st := c.Stats()
			// Alice's media may never have started: bob's BYE can beat
			// her reading his 200.
			if st.SRTP != nil && (st.SRTP.Keying != "dtls" || st.SRTP.Unprotected != 0 || st.SRTP.Suite != "") {
				t.Fatalf("%s: %+v", who, st.SRTP)
			}
			if st.RTP != nil && st.RTP.Received != 0 {
				t.Fatalf("%s played %d packets", who, st.RTP.Received)
			}
		}
		if _, plain, srtp := tap.counts(); plain != 0 || srtp != 0 {
			t.Fatalf("media on the wire: %d plain, %d srtp", plain, srtp)
		}
	})
}

// TestDTLSKeyingPolicies: who takes whose offer.
func TestDTLSKeyingPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   func(*Config)
		code   int    // 0: answered
		keying string // of the answered call; "" plain
	}{
		{"dtls calls sdes", dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), sdesReq, 488, ""},
		{"sdes calls dtls", sdesReq, dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), 488, ""},
		{"dtls calls plain", dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), nil, 488, ""},
		{"both calls dtls", dtlsPolicy(sdp.SRTPRequired, sdp.KeyingBoth), dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), 0, "dtls"},
		{"both calls sdes", dtlsPolicy(sdp.SRTPRequired, sdp.KeyingBoth), sdesReq, 0, "sdes"},
		{"optional dtls calls plain", dtlsPolicy(sdp.SRTPOptional, sdp.KeyingDTLS), nil, 0, ""},
		{"dtls calls both", dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS), dtlsPolicy(sdp.SRTPOptional, sdp.KeyingBoth), 0, "dtls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, a, b := pair(t, tc.a, tc.b)
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
				sa, sb := ca.Stats().SRTP, cb.Stats().SRTP
				if tc.keying == "" && (sa != nil || sb != nil) || tc.keying != "" && (sa == nil || sb == nil || sa.Keying != tc.keying || sb.Keying != tc.keying) {
					t.Fatalf("security alice %+v bob %+v, want %q", sa, sb, tc.keying)
				}
				ca.Hangup()
				b.waitCall(t, cb, StateEnded)
			})
		})
	}
}

func sdesReq(c *Config) { c.SRTP, c.SRTPOverInsecure = sdp.SRTPRequired, true }

// dtlsInvite is rawInvite with the given m= line and attributes.
func dtlsInvite(src, callID, media string) []byte {
	body := "v=0\r\no=- 1 1 IN IP4 " + src + "\r\ns=-\r\nc=IN IP4 " + src + "\r\nt=0 0\r\n" + media
	return []byte(fmt.Sprintf("INVITE sip:alice@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP %[1]s:5070;branch=z9hG4bK%[2]s\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:x@%[1]s>;tag=f%[2]s\r\nTo: <sip:alice@10.0.0.2>\r\nCall-ID: %[2]s\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:x@%[1]s:5070>\r\nContent-Type: application/sdp\r\nContent-Length: %[3]d\r\n\r\n%[4]s",
		src, callID, len(body), body))
}

// TestDTLSMalformedOffers: offers with broken fingerprint or setup lines
// get 488 from a phone that requires DTLS-SRTP, and never ring it.
func TestDTLSMalformedOffers(t *testing.T) {
	fp := "a=fingerprint:sha-256 " + strings.TrimSuffix(strings.Repeat("AB:", 32), ":") + "\r\n"
	m := "m=audio 4000 UDP/TLS/RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	offers := map[string]string{
		"short-fingerprint": m + "a=setup:actpass\r\na=fingerprint:sha-256 AB:CD\r\n",
		"md5-fingerprint":   m + "a=setup:actpass\r\na=fingerprint:md5 " + strings.TrimSuffix(strings.Repeat("AB:", 16), ":") + "\r\n",
		"not-hex":           m + "a=setup:actpass\r\na=fingerprint:sha-256 " + strings.TrimSuffix(strings.Repeat("ZZ:", 32), ":") + "\r\n",
		"no-fingerprint":    m + "a=setup:actpass\r\n",
		"bad-setup":         m + "a=setup:maybe\r\n" + fp,
		"holdconn":          m + "a=setup:holdconn\r\n" + fp,
		"empty-fingerprint": m + "a=setup:actpass\r\na=fingerprint:\r\n",
	}
	synctest.Test(t, func(t *testing.T) {
		rn, _, p := admitWorld(t, dtlsPolicy(sdp.SRTPRequired, sdp.KeyingDTLS))
		proxy := listen(t, rn, "10.0.0.1:5070")
		for name, media := range offers {
			proxy.WriteTo(dtlsInvite("10.0.0.1", "bad-"+name, media), phoneAddr)
			if codes := readCodes(t, proxy, 5*time.Second); !slices.Contains(codes, 488) {
				t.Errorf("%s: got %v, want 488", name, codes)
			}
		}
		if n := incomingCount(p); n != 0 {
			t.Fatalf("%d malformed offers rang the phone", n)
		}
	})
}
