package sdp

import (
	"net/netip"
	"strings"
	"testing"
)

// ipv6Offer is an IPv6 phone's offer: o= and c= IN IP6, a media-level c=
// overriding the session's, and a=rtcp with an IPv6 address.
const ipv6Offer = "v=0\r\n" +
	"o=bob 7 7 IN IP6 2001:db8::2\r\n" +
	"s=-\r\n" +
	"c=IN IP6 2001:db8::2\r\n" +
	"t=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 101\r\n" +
	"c=IN IP6 2001:db8:0:1::7\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=rtcp:49171 IN IP6 2001:db8:0:1::7\r\n" +
	"a=sendrecv\r\n"

// TestIPv6ParseGenerate: an IN IP6 offer parses (session and media c=,
// a=rtcp), round-trips, and is answered from an IPv6 media address with
// o= and c= IN IP6; the offerer reads the answer back with the IPv6
// address to send to.
func TestIPv6ParseGenerate(t *testing.T) {
	roundTrip(t, []byte(ipv6Offer))
	s := mustParse(t, []byte(ipv6Offer))
	m := s.Media[0]
	if s.Conn != netip.MustParseAddr("2001:db8::2") || m.Conn != netip.MustParseAddr("2001:db8:0:1::7") {
		t.Errorf("c= %v / %v", s.Conn, m.Conn)
	}
	if m.RTCP != netip.MustParseAddrPort("[2001:db8:0:1::7]:49171") {
		t.Errorf("a=rtcp %v", m.RTCP)
	}
	if s.Origin.AddrType != "IP6" || s.Origin.Address != "2001:db8::2" {
		t.Errorf("o= %+v", s.Origin)
	}
	l := Local{Addr: netip.MustParseAddrPort("[2001:db8::9]:40000"), RTCP: netip.MustParseAddrPort("[2001:db8::9]:40001"),
		Formats: []Format{pcmu, te}, Direction: SendRecv, SessionID: 1, Version: 1}
	ans, neg, err := Answer(s, l)
	if err != nil {
		t.Fatal(err)
	}
	text := string(ans.Marshal())
	for _, want := range []string{"o=- 1 1 IN IP6 2001:db8::9\r\n", "c=IN IP6 2001:db8::9\r\n", "a=rtcp:40001 IN IP6 2001:db8::9\r\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("answer lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "IP4") {
		t.Errorf("answer mentions IP4:\n%s", text)
	}
	if neg.Remote != netip.MustParseAddrPort("[2001:db8:0:1::7]:49170") {
		t.Errorf("answerer sends to %v", neg.Remote)
	}
	back, err := Accept(Offer(l), mustParse(t, []byte(strings.ReplaceAll(ipv6Offer, "0 101", "0"))))
	if err != nil {
		t.Fatal(err)
	}
	if back.Remote != netip.MustParseAddrPort("[2001:db8:0:1::7]:49170") {
		t.Errorf("offerer sends to %v", back.Remote)
	}
}

// TestIPv6AddressForms: the literal decides the family whatever the
// address type says; an IPv4-mapped address is IPv4; a zoned address
// is kept as text (not an address media can be sent to).
func TestIPv6AddressForms(t *testing.T) {
	for _, tc := range []struct {
		c, want, line string
	}{
		{"IN IP6 ::1", "::1", "c=IN IP6 ::1"},
		{"IN IP6 ::ffff:192.0.2.1", "192.0.2.1", "c=IN IP4 192.0.2.1"},
		{"IN IP4 2001:db8::1", "2001:db8::1", "c=IN IP6 2001:db8::1"},
		{"IN IP6 fe80::1%eth0", "", "c=IN IP6 fe80::1%eth0"},
	} {
		s, err := Parse([]byte("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=" + tc.c + "\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
		if err != nil {
			t.Errorf("%q: %v", tc.c, err)
			continue
		}
		got := ""
		if s.Conn.IsValid() {
			got = s.Conn.String()
		}
		if got != tc.want || !strings.Contains(string(s.Marshal()), tc.line+"\r\n") {
			t.Errorf("%q: address %q, want %q; marshalled:\n%s", tc.c, got, tc.want, s.Marshal())
		}
	}
}

// FuzzAnswerIPv6 is FuzzAnswer from an IPv6 media address: answering any
// parsable offer never panics, keeps the m-line count, and a successful
// answer reads back to the same codec with o= and c= IN IP6.
func FuzzAnswerIPv6(f *testing.F) {
	l := Local{
		Addr:      netip.MustParseAddrPort("[2001:db8::9]:4000"),
		Formats:   []Format{{PT: 0}, {PT: 8}, {PT: 101, Name: "telephone-event"}},
		Direction: SendRecv,
		Ptime:     20,
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		offer, err := Parse(b)
		if err != nil {
			return
		}
		ans, neg, err := Answer(offer, l)
		if ans == nil || len(ans.Media) != len(offer.Media) {
			t.Fatalf("answer %+v to %d m-lines", ans, len(offer.Media))
		}
		if err != nil {
			return
		}
		text := ans.Marshal()
		if !strings.Contains(string(text), "c=IN IP6 2001:db8::9\r\n") || !strings.Contains(string(text), " IN IP6 2001:db8::9\r\n") {
			t.Fatalf("answer not IN IP6:\n%s", text)
		}
		back, err := Parse(text)
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, text)
		}
		n, err := Accept(offer, back)
		if err != nil {
			t.Fatalf("Accept of our own answer: %v\noffer %q\nanswer %s", err, b, text)
		}
		if n.Codec.PT != neg.Codec.PT || n.Remote != l.Addr {
			t.Fatalf("offerer sees %+v, answerer %+v", n, neg)
		}
	})
}
