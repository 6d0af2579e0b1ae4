package sdp

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

func TestParseCrypto(t *testing.T) {
	c, err := ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")
	if err != nil {
		t.Fatal(err)
	}
	if c.Tag != 1 || c.Suite != SuiteAES128CMSHA1_80 || len(c.Key) != 30 || c.Lifetime != 1<<20 || !bytes.Equal(c.MKI, []byte{0, 0, 0, 1}) {
		t.Fatalf("got %+v", c)
	}
	if got := c.Value(); got != "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4" {
		t.Fatalf("Value %q", got)
	}
	g, err := ParseCrypto("7 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw== WSH=128")
	if err != nil || len(g.Key) != 28 || g.Tag != 7 || len(g.Params) != 1 {
		t.Fatalf("gcm: %+v %v", g, err)
	}
	// Unpadded base64 is read too.
	if _, err := ParseCrypto("7 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCrypto("1 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|1234567"); err != nil {
		t.Fatal(err)
	}
}

func TestParseCryptoRefuses(t *testing.T) {
	key := "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	for _, tc := range []struct {
		in   string
		want error
		why  string
	}{
		{"1 F8_128_HMAC_SHA1_80 inline:" + key, ErrUnknownSuite, "unsupported suite"},
		{"1 AES_256_CM_HMAC_SHA1_80 inline:" + key, ErrUnknownSuite, "unsupported suite"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key[:36], ErrCrypto, "27 bytes"},
		{"1 AEAD_AES_128_GCM inline:" + key, ErrCrypto, "needs 28"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key[:39] + "!", ErrCrypto, "base64"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^20|1:32", ErrCrypto, "MKI longer"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^20|256:1", ErrCrypto, "does not fit"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^49", ErrCrypto, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|0", ErrCrypto, "lifetime"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|1:4|2^20", ErrCrypto, "lifetime after MKI"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|1:4;inline:" + key + "|2:4", ErrCrypto, "more than one key"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " UNENCRYPTED_SRTP", ErrCrypto, "weakens"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " UNAUTHENTICATED_SRTP", ErrCrypto, "weakens"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " KDR=1", ErrCrypto, "not supported"},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " WSH=x", ErrCrypto, "WSH"},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:" + key, ErrCrypto, "not inline"},
		{"1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + key, ErrCrypto, "bad tag"},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + key, ErrCrypto, "bad tag"},
		{"1 AES_CM_128_HMAC_SHA1_80", ErrCrypto, "needs"},
	} {
		_, err := ParseCrypto(tc.in)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%q: got %v, want %v with %q", tc.in, err, tc.want, tc.why)
			continue
		}
		if strings.Contains(err.Error(), key[:20]) {
			t.Errorf("%q: error shows the key: %v", tc.in, err)
		}
	}
}

func TestCryptoNeverPrintsKey(t *testing.T) {
	c, err := ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR")
	if err != nil {
		t.Fatal(err)
	}
	s := SRTP{Suite: c.Suite, Local: c, Remote: c}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("x", "c", c, "srtp", s, "neg", Negotiated{SRTP: s})
	out := buf.String() + fmt.Sprint(c) + fmt.Sprintf("%v %+v %s", s, s, c)
	if strings.Contains(out, "PS1uQCVe") {
		t.Fatalf("key printed: %s", out)
	}
}

func testKeys(_ testing.TB, fill byte) []Crypto {
	var out []Crypto
	for _, s := range Suites {
		k, sl, _ := SuiteKeyLen(s)
		out = append(out, Crypto{Suite: s, Key: bytes.Repeat([]byte{fill}, k+sl)})
	}
	return out
}

func srtpLocal(t testing.TB, port uint16, p Policy, fill byte) Local {
	return Local{
		Addr:    netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), port),
		Formats: []Format{{PT: 0}}, SRTP: p, Crypto: testKeys(t, fill),
	}
}

func srtpRoundTrip(t *testing.T, offerer, answerer Local) (Negotiated, Negotiated, error) {
	t.Helper()
	offer, err := Parse(Offer(offerer).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	ans, an, err := Answer(offer, answerer)
	if err != nil {
		return Negotiated{}, an, err
	}
	back, err := Parse(ans.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	on, err := Accept(Offer(offerer), back)
	return on, an, err
}

func TestOfferAnswerSRTP(t *testing.T) {
	for _, tc := range []struct {
		off, ans Policy
		secure   bool
		err      error
	}{
		{SRTPRequired, SRTPRequired, true, nil},
		{SRTPRequired, SRTPOptional, true, nil},
		{SRTPOptional, SRTPRequired, true, nil},
		{SRTPOptional, SRTPOptional, true, nil},
		{SRTPOptional, SRTPOff, false, nil},
		{SRTPOff, SRTPOptional, false, nil},
		{SRTPOff, SRTPRequired, false, ErrInsecure},
		{SRTPRequired, SRTPOff, false, ErrInsecure},
		{SRTPOff, SRTPOff, false, nil},
	} {
		name := tc.off.String() + "-" + tc.ans.String()
		on, an, err := srtpRoundTrip(t, srtpLocal(t, 4000, tc.off, 1), srtpLocal(t, 5000, tc.ans, 2))
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: err %v, want %v", name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if on.SRTP.Enabled() != tc.secure || an.SRTP.Enabled() != tc.secure {
			t.Errorf("%s: offerer %v answerer %v, want secure %v", name, on.SRTP, an.SRTP, tc.secure)
			continue
		}
		if !tc.secure {
			continue
		}
		if on.SRTP.Suite != Suites[0] || an.SRTP.Suite != on.SRTP.Suite {
			t.Errorf("%s: suites %s %s", name, on.SRTP.Suite, an.SRTP.Suite)
		}
		// Each side decrypts with what the other sends with.
		if !bytes.Equal(on.SRTP.Local.Key, an.SRTP.Remote.Key) || !bytes.Equal(on.SRTP.Remote.Key, an.SRTP.Local.Key) || on.SRTP.Local.Key[0] != 1 || an.SRTP.Local.Key[0] != 2 {
			t.Errorf("%s: keys do not pair up", name)
		}
	}
}

func TestAnswerPicksOffererPreference(t *testing.T) {
	off := srtpLocal(t, 4000, SRTPRequired, 1)
	off.Crypto = []Crypto{off.Crypto[2], off.Crypto[1]} // SHA1_32 first
	ans := srtpLocal(t, 5000, SRTPRequired, 2)
	on, an, err := srtpRoundTrip(t, off, ans)
	if err != nil || on.SRTP.Suite != SuiteAES128CMSHA1_32 || an.SRTP.Local.Tag != 1 {
		t.Fatalf("%v %v %v", on.SRTP, an.SRTP, err)
	}
	// An answerer with only SHA1_80 takes tag 2.
	ans.Crypto = ans.Crypto[1:2]
	on, _, err = srtpRoundTrip(t, off, ans)
	if err != nil || on.SRTP.Suite != SuiteAES128CMSHA1_80 || on.SRTP.Local.Tag != 2 {
		t.Fatalf("%v %v", on.SRTP, err)
	}
}

func TestAnswerBadCrypto(t *testing.T) {
	key := "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	mk := func(proto string, lines ...string) *Session {
		b := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 6000 " + proto + " 0\r\n"
		for _, l := range lines {
			b += "a=crypto:" + l + "\r\n"
		}
		s, err := Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	req := srtpLocal(t, 5000, SRTPRequired, 2)
	opt := srtpLocal(t, 5000, SRTPOptional, 2)
	for _, tc := range []struct {
		name   string
		offer  *Session
		l      Local
		secure bool
		err    error
	}{
		{"wrong key length", mk("RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_80 inline:"+key[:36]), req, false, ErrInsecure},
		{"unknown suite", mk("RTP/SAVP", "1 F8_128_HMAC_SHA1_80 inline:"+key), req, false, ErrInsecure},
		{"broken base64", mk("RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_80 inline:"+key[:39]+"*"), req, false, ErrInsecure},
		{"savp without crypto", mk("RTP/SAVP"), opt, false, ErrInsecure},
		{"bad then good", mk("RTP/SAVP", "1 F8_128_HMAC_SHA1_80 inline:"+key, "2 AES_CM_128_HMAC_SHA1_80 inline:"+key), req, true, nil},
		{"best effort bad crypto, optional", mk("RTP/AVP", "1 F8_128_HMAC_SHA1_80 inline:"+key), opt, false, nil},
		{"best effort bad crypto, required", mk("RTP/AVP", "1 F8_128_HMAC_SHA1_80 inline:"+key), req, false, ErrInsecure},
	} {
		ans, n, err := Answer(tc.offer, tc.l)
		if !errors.Is(err, tc.err) || n.SRTP.Enabled() != tc.secure {
			t.Errorf("%s: %v %v", tc.name, n.SRTP, err)
		}
		if err != nil && (ans == nil || ans.Media[0].Port != 0) {
			t.Errorf("%s: refused stream not answered with port 0", tc.name)
		}
		if err == nil && !tc.secure && bytes.Contains(ans.Marshal(), []byte("crypto")) {
			t.Errorf("%s: plain answer carries crypto", tc.name)
		}
	}
}

func TestAcceptRefuses(t *testing.T) {
	offerer := srtpLocal(t, 4000, SRTPOptional, 1)
	offer := Offer(offerer)
	answer := func(lines ...string) *Session {
		b := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
		for _, l := range lines {
			b += "a=crypto:" + l + "\r\n"
		}
		s, err := Parse([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	key := "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	for _, tc := range []struct {
		name string
		ans  *Session
		err  error
	}{
		{"tag not offered", answer("9 AES_CM_128_HMAC_SHA1_80 inline:" + key), ErrInsecure},
		{"suite does not match tag", answer("1 AES_CM_128_HMAC_SHA1_80 inline:" + key), ErrInsecure},
		{"two lines", answer("2 AES_CM_128_HMAC_SHA1_80 inline:"+key, "3 AES_CM_128_HMAC_SHA1_32 inline:"+key), ErrInsecure},
		{"bad key", answer("2 AES_CM_128_HMAC_SHA1_80 inline:" + key[:36]), ErrCrypto},
		{"good", answer("2 AES_CM_128_HMAC_SHA1_80 inline:" + key), nil},
		{"plain", answer(), nil},
	} {
		if _, err := Accept(offer, tc.ans); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

func FuzzParseCrypto(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCrypto(v)
		if err != nil {
			var ce *CryptoError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CryptoError", err)
			}
			return
		}
		k, s, ok := SuiteKeyLen(c.Suite)
		if !ok || len(c.Key) != k+s || len(c.MKI) > 4 {
			t.Fatalf("accepted %+v", c)
		}
		c2, err := ParseCrypto(c.Value())
		if err != nil {
			t.Fatalf("reparse of %q: %v", c.Value(), err)
		}
		if c2.Value() != c.Value() {
			t.Fatalf("unstable %q %q", c.Value(), c2.Value())
		}
		if strings.Contains(c.String(), "inline:"+c.Value()[strings.Index(c.Value(), "inline:")+7:][:8]) {
			t.Fatalf("String shows key")
		}
	})
}

// FuzzAnswerSRTP answers any parsable offer under each SRTP policy: never
// a panic, a refused offer is answered with port 0, and the offerer
// reads a successful answer back to the same keys, paired the other way.
func FuzzAnswerSRTP(f *testing.F) {
	key := "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	for _, proto := range []string{"RTP/AVP", "RTP/SAVP", "RTP/SAVPF"} {
		for _, c := range []string{"", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|2^20|1:4\r\n",
			"a=crypto:1 F8_128_HMAC_SHA1_80 inline:" + key + "\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + key + "\r\n"} {
			f.Add([]byte("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 6000 " + proto + " 0 101\r\na=rtpmap:101 telephone-event/8000\r\n" + c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		offer, err := Parse(b)
		if err != nil {
			return
		}
		for _, p := range []Policy{SRTPOff, SRTPOptional, SRTPRequired} {
			l := srtpLocal(nil, 5000, p, 2)
			ans, neg, err := Answer(offer, l)
			if ans == nil || len(ans.Media) != len(offer.Media) {
				t.Fatalf("answer %+v to %d m-lines", ans, len(offer.Media))
			}
			if err != nil {
				continue
			}
			if p == SRTPRequired && !neg.SRTP.Enabled() || p == SRTPOff && neg.SRTP.Enabled() {
				t.Fatalf("policy %s negotiated %v", p, neg.SRTP)
			}
			back, err := Parse(ans.Marshal())
			if err != nil {
				t.Fatalf("answer does not parse: %v", err)
			}
			n, err := Accept(offer, back)
			if err != nil {
				// The offer may hold crypto lines the answer does not
				// match (we answered a best-effort offer plain): fine
				// only when we did not take SRTP.
				if neg.SRTP.Enabled() {
					t.Fatalf("policy %s: offerer refuses our SRTP answer: %v", p, err)
				}
				continue
			}
			if n.SRTP.Enabled() != neg.SRTP.Enabled() || (n.SRTP.Enabled() &&
				(!bytes.Equal(n.SRTP.Local.Key, neg.SRTP.Remote.Key) || !bytes.Equal(n.SRTP.Remote.Key, neg.SRTP.Local.Key))) {
				t.Fatalf("policy %s: offerer sees %v, answerer %v", p, n.SRTP, neg.SRTP)
			}
		}
	})
}
