package sdp

import (
	"errors"
	"strings"
	"testing"
)

var cn = Format{PT: 13, Name: "CN", Rate: 8000}

func offerText(fmts string, rtpmaps ...string) *Session {
	lines := []string{"v=0", "o=- 1 1 IN IP4 192.0.2.7", "s=-", "c=IN IP4 192.0.2.7", "t=0 0",
		"m=audio 30000 RTP/AVP " + fmts}
	for _, r := range rtpmaps {
		lines = append(lines, "a=rtpmap:"+r)
	}
	s, err := Parse([]byte(strings.Join(append(lines, ""), "\r\n")))
	if err != nil {
		panic(err)
	}
	return s
}

func TestComfortNoiseNegotiation(t *testing.T) {
	withCN := phone(SendRecv)
	withCN.Formats = []Format{pcmu, te, cn}
	if got := string(Offer(withCN).Marshal()); !strings.Contains(got, "m=audio 40000 RTP/AVP 0 101 13\r\n") ||
		!strings.Contains(got, "a=rtpmap:13 CN/8000\r\n") {
		t.Fatalf("offer:\n%s", got)
	}
	for _, tc := range []struct {
		name   string
		offer  *Session
		local  Local
		codec  string
		cnPT   uint8
		answer string // the answer's m-line formats
	}{
		{"both", offerText("0 13 101", "101 telephone-event/8000"), withCN, "PCMU", 13, "0 101 13"},
		{"static without rtpmap", offerText("13 0"), withCN, "PCMU", 13, "0 13"},
		{"offer without CN", offerText("0 101", "101 telephone-event/8000"), withCN, "PCMU", 0, "0 101"},
		{"we without CN", offerText("0 13"), phone(SendRecv), "PCMU", 0, "0"},
		{"CN at another rate", offerText("9 98", "98 CN/16000"), func() Local {
			l := withCN
			l.Formats = []Format{{PT: 9, Name: "G722", Rate: 8000}, cn}
			return l
		}(), "G722", 0, "9"},
		{"G.722 at 8000", offerText("9 13"), func() Local {
			l := withCN
			l.Formats = []Format{{PT: 9, Name: "G722", Rate: 8000}, cn}
			return l
		}(), "G722", 13, "9 13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ans, neg, err := Answer(tc.offer, tc.local)
			if err != nil {
				t.Fatal(err)
			}
			if neg.Codec.Name != tc.codec || neg.CN.PT != tc.cnPT {
				t.Fatalf("negotiated %+v CN %+v", neg.Codec, neg.CN)
			}
			if got := string(ans.Marshal()); !strings.Contains(got, "RTP/AVP "+tc.answer+"\r\n") {
				t.Fatalf("answer:\n%s", got)
			}
			// The offerer, reading the answer, comes to the same.
			acc, err := Accept(tc.offer, ans)
			if err != nil {
				t.Fatal(err)
			}
			if acc.Codec.Name != tc.codec || acc.CN.PT != tc.cnPT {
				t.Fatalf("accepted %+v CN %+v", acc.Codec, acc.CN)
			}
		})
	}
	// CN alone is no codec.
	if _, _, err := Answer(offerText("13 101", "101 telephone-event/8000"), withCN); !errors.Is(err, ErrNoCommonCodec) {
		t.Fatalf("CN-only offer: %v", err)
	}
}
