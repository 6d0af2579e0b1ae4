package sdp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseCandidate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Candidate
	}{
		{"1 1 UDP 2130706431 10.0.1.2 16384 typ host", Candidate{Foundation: "1", Component: 1, Transport: "UDP", Priority: 2130706431,
			Addr: netip.MustParseAddrPort("10.0.1.2:16384"), Type: CandHost}},
		// baresip's form: lower-case transport, raddr/rport.
		{"7f0000a 1 udp 1694498815 203.0.113.9 40000 typ srflx raddr 192.168.1.5 rport 5004", Candidate{Foundation: "7f0000a", Component: 1, Transport: "UDP",
			Priority: 1694498815, Addr: netip.MustParseAddrPort("203.0.113.9:40000"), Type: CandSrflx, Related: netip.MustParseAddrPort("192.168.1.5:5004")}},
		// pion/Chrome extensions are kept.
		{"3 2 UDP 16777214 198.51.100.7 3478 typ relay raddr 0.0.0.0 rport 0 generation 0 network-id 1", Candidate{Foundation: "3", Component: 2, Transport: "UDP",
			Priority: 16777214, Addr: netip.MustParseAddrPort("198.51.100.7:3478"), Type: CandRelay, Related: netip.MustParseAddrPort("0.0.0.0:0"),
			Ext: []string{"generation", "0", "network-id", "1"}}},
		{"a+/b 1 UDP 1 2001:db8::1 5000 typ host", Candidate{Foundation: "a+/b", Component: 1, Transport: "UDP", Priority: 1,
			Addr: netip.MustParseAddrPort("[2001:db8::1]:5000"), Type: CandHost}},
	} {
		got, err := ParseCandidate(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.Value() != tc.want.Value() || got.Related != tc.want.Related {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		back, err := ParseCandidate(got.Value())
		if err != nil || back.Value() != got.Value() {
			t.Errorf("%q: round trip %q: %v", tc.in, got.Value(), err)
		}
	}
	for _, bad := range []string{
		"", "1 1 UDP 1 10.0.0.1 5000 typ", "1 1 UDP 1 10.0.0.1 5000 host x",
		"1 0 UDP 1 10.0.0.1 5000 typ host", "1 1 UDP 0 10.0.0.1 5000 typ host",
		"1 1 UDP 4294967296 10.0.0.1 5000 typ host", "1 1 UDP 1 abc.local 5000 typ host",
		"1 1 UDP 1 10.0.0.1 70000 typ host", "f!o 1 UDP 1 10.0.0.1 5000 typ host",
		"1 1 UDP 1 10.0.0.1 5000 typ host raddr", "1 1 UDP 1 10.0.0.1 5000 typ srflx raddr x rport 1",
		"1 1 UDP 1 fe80::1%eth0 5000 typ host",
	} {
		if _, err := ParseCandidate(bad); !errors.Is(err, ErrICE) {
			t.Errorf("%q: err %v, want ErrICE", bad, err)
		}
	}
}

const iceOffer = "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n" +
	"a=ice-ufrag:abcd\r\n" +
	"m=audio 40000 RTP/AVP 0\r\n" +
	"a=ice-pwd:0123456789abcdefghijklmn\r\n" +
	"a=candidate:1 1 UDP 2130706431 192.168.1.5 5004 typ host\r\n" +
	"a=candidate:2 1 UDP 1694498815 203.0.113.9 40000 typ srflx raddr 192.168.1.5 rport 5004\r\n" +
	"a=candidate:3 1 TCP 1 203.0.113.9 9 typ host\r\n" +
	"a=candidate:x 1 UDP 1 host.local 9 typ host\r\n"

func TestICEOfferAnswer(t *testing.T) {
	offer, err := Parse([]byte(iceOffer))
	if err != nil {
		t.Fatal(err)
	}
	ice, ok, errs := offer.ICE(&offer.Media[0])
	if !ok || ice.Ufrag != "abcd" || len(ice.Candidates) != 2 || len(errs) != 1 {
		t.Fatalf("ICE %+v ok %v errs %v", ice, ok, errs)
	}
	ours := &ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba", Candidates: []Candidate{
		{Foundation: "1", Component: 1, Transport: "UDP", Priority: 1, Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Type: CandHost},
	}}
	l := Local{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), ICE: ours}
	ans, neg, err := Answer(offer, l)
	if err != nil {
		t.Fatal(err)
	}
	if neg.RemoteICE == nil || neg.RemoteICE.Pwd != ice.Pwd {
		t.Fatalf("RemoteICE %+v", neg.RemoteICE)
	}
	if !strings.Contains(string(ans.Marshal()), "a=candidate:1 1 UDP 1 192.0.2.1 4000 typ host\r\n") {
		t.Errorf("answer lacks our candidate:\n%s", ans.Marshal())
	}
	// The offerer reads the answerer's ICE back.
	back, _ := Parse(ans.Marshal())
	n, err := Accept(offer, back)
	if err != nil || n.RemoteICE == nil || n.RemoteICE.Ufrag != "wxyz" {
		t.Fatalf("Accept: %+v %v", n.RemoteICE, err)
	}
	// Without ICE on our side the answer is today's.
	plain, neg2, _ := Answer(offer, Local{Addr: l.Addr})
	if neg2.RemoteICE != nil || strings.Contains(string(plain.Marshal()), "ice-") {
		t.Errorf("ICE in a plain answer:\n%s", plain.Marshal())
	}
	// A peer whose c= is not among its candidates (an ALG rewrote it):
	// ice-mismatch, no ICE.
	mis, _ := Parse([]byte(strings.Replace(iceOffer, "c=IN IP4 203.0.113.9", "c=IN IP4 198.51.100.1", 1)))
	if _, ok, _ := mis.ICE(&mis.Media[0]); ok {
		t.Error("ICE accepted although c= is not a candidate")
	}
	if !mis.ICEMismatch(&mis.Media[0]) || offer.ICEMismatch(&offer.Media[0]) {
		t.Error("ICEMismatch wrong")
	}
	misAns, neg3, _ := Answer(mis, l)
	if neg3.RemoteICE != nil {
		t.Error("RemoteICE on a mismatched offer")
	}
	// The answer says ice-mismatch and carries no other ICE attribute
	// (RFC 8839 ice-mismatch, as in RFC 5245 §5.1); the offerer reading it back does no ICE.
	ma := string(misAns.Marshal())
	if !strings.Contains(ma, "a=ice-mismatch") || strings.Contains(ma, "ice-ufrag") || strings.Contains(ma, "candidate") {
		t.Errorf("answer to a mismatched offer:\n%s", ma)
	}
	back2, _ := Parse([]byte(ma))
	if n, err := Accept(mis, back2); err != nil || n.RemoteICE != nil {
		t.Errorf("Accept of the ice-mismatch answer: %+v %v", n.RemoteICE, err)
	}
	// A peer without ICE at all gets no ice-mismatch.
	plainOffer, _ := Parse([]byte(strings.Replace(strings.Replace(iceOffer, "a=ice-ufrag:abcd\r\n", "", 1), "a=ice-pwd:0123456789abcdefghijklmn\r\n", "", 1)))
	if plainOffer.ICEMismatch(&plainOffer.Media[0]) {
		t.Error("ICEMismatch without ICE credentials")
	}
	pa, _, _ := Answer(plainOffer, l)
	if strings.Contains(string(pa.Marshal()), "ice-") {
		t.Errorf("ICE attributes in the answer to a plain offer:\n%s", pa.Marshal())
	}
}

// FuzzParseCandidate: no panic; what parses survives Value and parsing
// again unchanged.
func FuzzParseCandidate(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCandidate(s)
		if err != nil {
			if !errors.Is(err, ErrICE) {
				t.Fatalf("error %v does not wrap ErrICE", err)
			}
			return
		}
		v := c.Value()
		c2, err := ParseCandidate(v)
		if err != nil {
			t.Fatalf("reparse of %q: %v (from %q)", v, err, s)
		}
		if c2.Value() != v {
			t.Fatalf("unstable: %q then %q", v, c2.Value())
		}
	})
}

// FuzzICE: reading the ICE of any parsable description never panics,
// and what it returns has usable credentials and UDP candidates only.
func FuzzICE(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		for i := range s.Media {
			ice, ok, _ := s.ICE(&s.Media[i])
			if !ok {
				continue
			}
			if len(ice.Ufrag) < 4 || len(ice.Pwd) < 22 {
				t.Fatalf("credentials %q %q", ice.Ufrag, ice.Pwd)
			}
			for _, c := range ice.Candidates {
				if c.Transport != "UDP" || !c.Addr.IsValid() {
					t.Fatalf("candidate %+v", c)
				}
			}
		}
		// Answered by an ICE agent that accepts rtcp-mux from ICE
		// offers: with mux, no a=rtcp and no component-2 candidate.
		l := Local{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), RTCPMuxICE: true,
			ICE: &ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba", Candidates: []Candidate{
				{Foundation: "1", Component: 1, Transport: "UDP", Priority: 2, Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Type: CandHost},
				{Foundation: "1", Component: 2, Transport: "UDP", Priority: 1, Addr: netip.MustParseAddrPort("192.0.2.1:4001"), Type: CandHost},
			}, Remote: []Candidate{{Component: 1, Addr: netip.MustParseAddrPort("192.0.2.9:9")}}}}
		ans, neg, err := Answer(s, l)
		if err != nil {
			return
		}
		a := string(ans.Marshal())
		if strings.Contains(a, "remote-candidates") {
			t.Fatalf("a=remote-candidates in an answer:\n%s", a)
		}
		if neg.RTCPMux && (neg.RemoteICE == nil || strings.Contains(a, "a=rtcp:") || strings.Contains(a, "a=candidate:1 2 ")) {
			t.Fatalf("mux answer (ICE %v):\n%s", neg.RemoteICE != nil, a)
		}
	})
}

// TestICERTCPMuxAnswer: with RTCPMuxICE an ICE offer's a=rtcp-mux is
// accepted (RFC 5761 §5.1.1), and the answer carries no a=rtcp and no
// component-2 candidate (RFC 8839 §4.2): ICE runs on component 1 only.
// A plain offer with rtcp-mux, an ICE offer without it, and an offer
// answered without ICE on our side keep today's answer (both ports).
func TestICERTCPMuxAnswer(t *testing.T) {
	muxOffer := strings.Replace(iceOffer, "a=ice-pwd:", "a=rtcp-mux\r\na=ice-pwd:", 1)
	ours := &ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba", Candidates: []Candidate{
		{Foundation: "1", Component: 1, Transport: "UDP", Priority: 2, Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Type: CandHost},
		{Foundation: "1", Component: 2, Transport: "UDP", Priority: 1, Addr: netip.MustParseAddrPort("192.0.2.1:4001"), Type: CandHost},
	}}
	l := Local{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), RTCP: netip.MustParseAddrPort("192.0.2.1:4001"), ICE: ours, RTCPMuxICE: true}
	plainMux := strings.Replace(strings.Replace(muxOffer, "a=ice-ufrag:abcd\r\n", "", 1), "a=ice-pwd:0123456789abcdefghijklmn\r\n", "", 1)
	for _, tc := range []struct {
		name, offer string
		l           Local
		mux         bool
	}{
		{"ice-mux", muxOffer, l, true},
		{"ice-no-mux", iceOffer, l, false},
		{"plain-mux", plainMux, l, false},
		{"ice-mux-we-plain", muxOffer, Local{Addr: l.Addr, RTCP: l.RTCP, RTCPMuxICE: true}, false},
		{"ice-mux-not-accepted", muxOffer, Local{Addr: l.Addr, RTCP: l.RTCP, ICE: ours}, false},
	} {
		offer, err := Parse([]byte(tc.offer))
		if err != nil {
			t.Fatal(err)
		}
		ans, neg, err := Answer(offer, tc.l)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		a := string(ans.Marshal())
		if neg.RTCPMux != tc.mux || strings.Contains(a, "a=rtcp-mux") != tc.mux {
			t.Errorf("%s: mux %v, want %v:\n%s", tc.name, neg.RTCPMux, tc.mux, a)
		}
		if strings.Contains(a, "a=rtcp:") == tc.mux {
			t.Errorf("%s: a=rtcp with mux %v:\n%s", tc.name, tc.mux, a)
		}
		if comp2 := strings.Contains(a, "a=candidate:1 2 "); comp2 && tc.mux || !comp2 && strings.Contains(a, "a=ice-ufrag") && !tc.mux {
			t.Errorf("%s: component-2 candidate %v with mux %v:\n%s", tc.name, comp2, tc.mux, a)
		}
		if tc.mux && neg.RemoteRTCP != neg.Remote {
			t.Errorf("%s: RTCP to %v, RTP to %v", tc.name, neg.RemoteRTCP, neg.Remote)
		}
		// The offerer reads the answer back the same way.
		back, _ := Parse(ans.Marshal())
		if n, err := Accept(offer, back); err != nil || n.RTCPMux != tc.mux {
			t.Errorf("%s: Accept mux %v, %v", tc.name, n.RTCPMux, err)
		}
	}
}

// TestRemoteCandidates: a=remote-candidates (RFC 8839 §5.2) is written
// in an offer as "component address port" per component, never in an
// answer (§4.4.2), and a peer's is not taken for anything.
func TestRemoteCandidates(t *testing.T) {
	ours := &ICE{Ufrag: "wxyz", Pwd: "zyxwvutsrqponmlkjihgfedcba", Candidates: []Candidate{
		{Foundation: "1", Component: 1, Transport: "UDP", Priority: 1, Addr: netip.MustParseAddrPort("192.0.2.1:4000"), Type: CandHost},
	}, Remote: []Candidate{{Component: 1, Addr: netip.MustParseAddrPort("203.0.113.9:40000")}, {Component: 2, Addr: netip.MustParseAddrPort("[2001:db8::9]:40001")}}}
	l := Local{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), ICE: ours}
	o := string(Offer(l).Marshal())
	if !strings.Contains(o, "a=remote-candidates:1 203.0.113.9 40000 2 2001:db8::9 40001\r\n") {
		t.Errorf("offer:\n%s", o)
	}
	offer, err := Parse([]byte(iceOffer + "a=remote-candidates:1 192.0.2.1 4000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	ans, neg, err := Answer(offer, l)
	if err != nil || neg.RemoteICE == nil {
		t.Fatalf("answer: %v, ICE %v", err, neg.RemoteICE)
	}
	if a := string(ans.Marshal()); strings.Contains(a, "remote-candidates") || !strings.Contains(a, "a=candidate:1 1 UDP") {
		t.Errorf("answer:\n%s", a)
	}
	if len(neg.RemoteICE.Remote) != 0 || len(ours.Remote) != 2 {
		t.Errorf("peer's remote candidates read %v; ours %v", neg.RemoteICE.Remote, ours.Remote)
	}
}
