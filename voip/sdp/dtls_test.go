package sdp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// fpA and fpB are two SHA-256 fingerprints for the tests.
var (
	fpA = Fingerprint{Hash: "sha-256", Value: bytes.Repeat([]byte{0xA1}, 32)}
	fpB = Fingerprint{Hash: "sha-256", Value: bytes.Repeat([]byte{0xB2}, 32)}
)

func dtlsLocal(t testing.TB, port uint16, p Policy, k Keying, fp Fingerprint) Local {
	l := srtpLocal(t, port, p, 3)
	l.Keying, l.Fingerprint = k, fp
	return l
}

// baresipOffer is baresip 1.0's dtls_srtp offer (captured on loopback,
// baresip -e "/dial ..." with mediaenc=dtls_srtp): setup and fingerprint
// at session level, the hash name in capitals, UDP/TLS/RTP/SAVPF, no
// rtcp-mux.
const baresipOffer = "v=0\r\no=- 2021063219 851337967 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n" +
	"a=tool:baresip 1.0.0\r\na=setup:actpass\r\n" +
	"a=fingerprint:SHA-256 B7:0E:55:8B:C8:0F:A8:54:55:FF:1A:A4:88:A9:67:B8:ED:88:C8:F6:C7:F4:51:F0:BD:1F:8B:A0:E2:96:1F:37\r\n" +
	"m=audio 17454 UDP/TLS/RTP/SAVPF 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=rtcp-rsize\r\na=ssrc:1186594361 cname:sip:b@127.0.0.1\r\na=minptime:20\r\na=ptime:20\r\n"

func TestParseFingerprint(t *testing.T) {
	f, err := ParseFingerprint("SHA-256 B7:0E:55:8B:C8:0F:A8:54:55:FF:1A:A4:88:A9:67:B8:ED:88:C8:F6:C7:F4:51:F0:BD:1F:8B:A0:E2:96:1F:37")
	if err != nil || f.Hash != "sha-256" || f.Value[0] != 0xB7 || f.Value[31] != 0x37 {
		t.Fatalf("%+v %v", f, err)
	}
	if g, err := ParseFingerprint(f.String()); err != nil || !bytes.Equal(g.Value, f.Value) {
		t.Fatalf("round trip %v %v", g, err)
	}
	for _, bad := range []string{"", "sha-256", "md5 00:11", "sha-256 B7:0E", "sha-1 zz:" + strings.Repeat("00:", 18) + "00",
		"sha-1 00-" + strings.Repeat("00:", 18) + "00", "sha-256 " + strings.Repeat("00:", 32), "sha-1 a b"} {
		if _, err := ParseFingerprint(bad); !errors.Is(err, ErrDTLS) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	der := []byte("certificate")
	g, _ := FingerprintOf("sha-256", der)
	if !g.Matches(der) || g.Matches([]byte("other")) || (Fingerprint{}).Matches(der) {
		t.Fatal("Matches")
	}
}

func TestDTLSOfferAnswer(t *testing.T) {
	for _, p := range []Policy{SRTPOptional, SRTPRequired} {
		for _, k := range []Keying{KeyingDTLS, KeyingBoth} {
			off := dtlsLocal(t, 4000, p, k, fpA)
			ans := dtlsLocal(t, 5000, p, k, fpB)
			o := Offer(off)
			txt := string(o.Marshal())
			if !strings.Contains(txt, "a=setup:actpass") || !strings.Contains(txt, "a=fingerprint:"+fpA.String()) {
				t.Fatalf("%s/%s offer:\n%s", p, k, txt)
			}
			if strings.Contains(txt, "a=crypto") != (k == KeyingBoth) {
				t.Fatalf("%s/%s offer crypto:\n%s", p, k, txt)
			}
			if want := p == SRTPRequired && k == KeyingDTLS; strings.Contains(txt, "UDP/TLS/RTP/SAVP") != want {
				t.Fatalf("%s/%s offer proto:\n%s", p, k, txt)
			}
			on, an, err := srtpRoundTrip(t, off, ans)
			if err != nil {
				t.Fatalf("%s/%s: %v", p, k, err)
			}
			if !on.DTLS.Enabled() || !an.DTLS.Enabled() || on.SRTP.Enabled() || an.SRTP.Enabled() {
				t.Fatalf("%s/%s: offerer %v answerer %v", p, k, on.DTLS, an.DTLS)
			}
			if on.DTLS.Role != SetupPassive || an.DTLS.Role != SetupActive {
				t.Fatalf("roles %v %v", on.DTLS.Role, an.DTLS.Role)
			}
			if !bytes.Equal(on.DTLS.Fingerprints[0].Value, fpB.Value) || !bytes.Equal(an.DTLS.Fingerprints[0].Value, fpA.Value) {
				t.Fatal("fingerprints crossed wrong")
			}
		}
	}
}

func TestDTLSAnswerBaresip(t *testing.T) {
	offer := mustParse(t, []byte(baresipOffer))
	ans, neg, err := Answer(offer, dtlsLocal(t, 5000, SRTPRequired, KeyingDTLS, fpB))
	if err != nil {
		t.Fatal(err)
	}
	if neg.DTLS.Role != SetupActive || neg.DTLS.Fingerprints[0].Value[0] != 0xB7 || neg.Codec.PT != 0 {
		t.Fatalf("%+v", neg)
	}
	txt := string(ans.Marshal())
	if !strings.Contains(txt, "UDP/TLS/RTP/SAVPF") || !strings.Contains(txt, "a=setup:active") {
		t.Fatalf("answer:\n%s", txt)
	}
	// SDES only, or SRTP off: refused, never answered plain.
	for _, l := range []Local{srtpLocal(t, 5000, SRTPRequired, 1), srtpLocal(t, 5000, SRTPOff, 1), srtpLocal(t, 5000, SRTPOptional, 1)} {
		if _, _, err := Answer(offer, l); err == nil {
			t.Fatalf("%s/sdes answered a DTLS offer", l.SRTP)
		}
	}
}

func TestDTLSRefused(t *testing.T) {
	base := "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 UDP/TLS/RTP/SAVP 0\r\n"
	fp := "a=fingerprint:" + fpA.String() + "\r\n"
	for name, sdp := range map[string]string{
		"no fingerprint":    base + "a=setup:actpass\r\n",
		"bad fingerprint":   base + "a=setup:actpass\r\na=fingerprint:sha-256 00:11\r\n",
		"md5 fingerprint":   base + "a=setup:actpass\r\na=fingerprint:md5 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n",
		"bad setup":         base + "a=setup:sideways\r\n" + fp,
		"holdconn":          base + "a=setup:holdconn\r\n" + fp,
		"two setups":        base + "a=setup:active\r\na=setup:passive\r\n" + fp,
		"savp without keys": "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1000 RTP/SAVP 0\r\n",
	} {
		offer := mustParse(t, []byte(sdp))
		ans, _, err := Answer(offer, dtlsLocal(t, 5000, SRTPRequired, KeyingDTLS, fpB))
		if err == nil {
			t.Errorf("%s: answered", name)
			continue
		}
		if ans.Media[0].Port != 0 {
			t.Errorf("%s: m-line not rejected", name)
		}
	}
	// An answer to our DTLS offer that is plain, has a bad fingerprint,
	// or says holdconn is refused; actpass (baresip 1.0's answer to a
	// re-INVITE) is read as active.
	off := dtlsLocal(t, 4000, SRTPOptional, KeyingDTLS, fpA)
	o, _ := Parse(Offer(off).Marshal())
	for name, a := range map[string]string{
		"holdconn":        "a=setup:holdconn\r\na=fingerprint:" + fpB.String() + "\r\n",
		"bad fingerprint": "a=setup:active\r\na=fingerprint:sha-256 zz\r\n",
	} {
		ans := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.2\r\nm=audio 2000 RTP/AVP 0\r\n"+a))
		if _, err := Accept(o, ans); !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v", name, err)
		}
	}
	ap := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.2\r\nm=audio 2000 RTP/AVP 0\r\na=setup:actpass\r\na=fingerprint:"+fpB.String()+"\r\n"))
	if n, err := Accept(o, ap); err != nil || n.DTLS.Role != SetupPassive {
		t.Errorf("actpass answer: %v %v", n.DTLS, err)
	}
	req := dtlsLocal(t, 4000, SRTPRequired, KeyingDTLS, fpA)
	ro, _ := Parse(Offer(req).Marshal())
	plain := mustParse(t, []byte("v=0\r\nc=IN IP4 192.0.2.2\r\nm=audio 2000 UDP/TLS/RTP/SAVP 0\r\n"))
	if _, err := Accept(ro, plain); !errors.Is(err, ErrInsecure) {
		t.Errorf("plain answer to UDP/TLS offer: %v", err)
	}
}

func TestParseKeying(t *testing.T) {
	for _, k := range []Keying{KeyingSDES, KeyingDTLS, KeyingBoth} {
		if got, err := ParseKeying(k.String()); err != nil || got != k {
			t.Fatal(k, got, err)
		}
	}
	if _, err := ParseKeying("zrtp"); err == nil {
		t.Fatal("zrtp accepted")
	}
}

// FuzzParseFingerprint: no panic, and what parses prints back the same.
func FuzzParseFingerprint(f *testing.F) {
	f.Add("sha-256 " + strings.Repeat("AB:", 31) + "CD")
	f.Add("SHA-1 " + strings.Repeat("00:", 19) + "ff")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		g, err := ParseFingerprint(fp.String())
		if err != nil || g.String() != fp.String() || !g.Valid() {
			t.Fatalf("%q -> %q: %v", s, fp.String(), err)
		}
	})
}

// FuzzAnswerDTLS answers any parsable offer under each keying with SRTP
// required: never a panic, a refused offer is answered with port 0, an
// accepted one is secure and reads back on the offerer's side to the
// same keying with the roles the other way round.
func FuzzAnswerDTLS(f *testing.F) {
	f.Add([]byte(baresipOffer))
	f.Fuzz(func(t *testing.T, b []byte) {
		offer, err := Parse(b)
		if err != nil {
			return
		}
		for _, k := range []Keying{KeyingSDES, KeyingDTLS, KeyingBoth} {
			l := dtlsLocal(nil, 5000, SRTPRequired, k, fpB)
			ans, neg, err := Answer(offer, l)
			if ans == nil || len(ans.Media) != len(offer.Media) {
				t.Fatalf("answer %+v to %d m-lines", ans, len(offer.Media))
			}
			if err != nil {
				continue
			}
			if !neg.Secure() {
				t.Fatalf("keying %s: required answered plain", k)
			}
			back, err := Parse(ans.Marshal())
			if err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			if !neg.DTLS.Enabled() {
				continue
			}
			if _, ok := hasFingerprint(offer, &offer.Media[neg.Index]); !ok {
				t.Fatal("DTLS without an offered fingerprint")
			}
			_ = back
		}
	})
}

func hasFingerprint(s *Session, m *Media) (Fingerprint, bool) {
	fps, _, _, err := dtlsAttrs(s, m)
	if err != nil || len(fps) == 0 {
		return Fingerprint{}, false
	}
	return fps[0], true
}
