package sdp

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// survives Marshal and Parse again, with a stable text.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		m1 := s.Marshal()
		s2, err := Parse(m1)
		if err != nil {
			t.Fatalf("reparse of marshalled description: %v\n%q\nfrom %q", err, m1, b)
		}
		if m2 := s2.Marshal(); !bytes.Equal(m1, m2) {
			t.Fatalf("unstable:\n%q\n%q", m1, m2)
		}
	})
}

// FuzzAnswer checks that answering any parsable offer never panics, that
// the answer keeps the m-line count, and that the offerer can read a
// successful answer back to the same codec.
func FuzzAnswer(f *testing.F) {
	l := Local{
		Addr:      netip.MustParseAddrPort("192.0.2.1:4000"),
		RTCPMux:   true,
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
		back, err := Parse(ans.Marshal())
		if err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, ans.Marshal())
		}
		n, err := Accept(offer, back)
		if err != nil {
			t.Fatalf("Accept of our own answer: %v\noffer %q\nanswer %s", err, b, ans.Marshal())
		}
		if n.Codec.PT != neg.Codec.PT || n.Index != neg.Index || n.DTMF.PT != neg.DTMF.PT {
			t.Fatalf("offerer sees %+v, answerer %+v", n, neg)
		}
	})
}
