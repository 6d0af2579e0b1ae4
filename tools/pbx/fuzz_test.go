package pbx

import (
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/deskphone/phone/voip/sdp"
)

// The fuzz target's PBX and phone live for the whole fuzzing process
// (one per worker), so each input costs two datagrams, not a new network.
var (
	fuzzBench *bench
	fuzzPhone *phone
)

// FuzzPBXRequest delivers arbitrary bytes to the PBX's SIP socket. The
// PBX must never panic (a panic in sipgo's goroutines kills the process;
// one in our handlers is recovered and counted) and must keep answering
// OPTIONS afterwards. INVITE authentication is off so that fuzzed
// INVITEs reach the proxy and the services' SDP code.
func FuzzPBXRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if fuzzBench == nil {
			fuzzBench = buildBench(t, func(func()) {}, func(c *Config) {
				c.NoInviteAuth = true
				c.T1 = 5 * time.Millisecond
				c.EarlyDuration = 10 * time.Millisecond
			})
			fuzzPhone = fuzzBench.newPhone("alice")
		}
		p := fuzzPhone
		p.t = t
		p.sendRaw(data)
		r := p.newReq("OPTIONS", "sip:pbx.test", "pbx")
		p.send(r)
		for {
			m := p.recvMsg(true)
			if res, ok := m.(*sip.Response); ok && res.CSeq() != nil && res.CSeq().SeqNo == r.cseq &&
				res.CSeq().MethodName == sip.OPTIONS && res.StatusCode == 200 {
				break
			}
		}
		if n := fuzzBench.pbx.panics.Load(); n != 0 {
			t.Fatalf("%d handler panics", n)
		}
	})
}

// FuzzAnswerOffer checks the services' offer/answer on any input: no
// panic, and an answer that the offerer can accept with the same codec.
func FuzzAnswerOffer(f *testing.F) {
	local := netip.MustParseAddrPort("10.0.0.1:40000")
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := answerOffer(data, local, 7, 1)
		if err != nil {
			return
		}
		off, err := sdp.Parse(data)
		if err != nil {
			t.Fatalf("answered an unparsable offer: %v", err)
		}
		ans, err := sdp.Parse(n.answer)
		if err != nil {
			t.Fatalf("our answer %q does not parse: %v", n.answer, err)
		}
		acc, err := sdp.Accept(off, ans)
		if err != nil {
			t.Fatalf("offerer cannot accept our answer %q: %v", n.answer, err)
		}
		if acc.Codec.PT != n.pt || acc.Remote != local {
			t.Fatalf("offerer sees %+v, we negotiated pt %d", acc, n.pt)
		}
	})
}
