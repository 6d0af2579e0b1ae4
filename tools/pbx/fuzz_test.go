package pbx

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
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

// FuzzParseOffer checks the services' small SDP reader on any input.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte("v=0\r\nc=IN IP4 10.0.0.10\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := parseOffer(data)
		if err != nil {
			return
		}
		if o.codec == nil || !o.remote.IsValid() {
			t.Fatalf("accepted offer without codec or address: %+v", o)
		}
		// Our answer to it parses back to the same stream.
		ans := answerSDP(o, o.remote, 1, 1)
		back, err := parseOffer(ans)
		if err != nil || back.codec != o.codec || back.pt != o.pt || back.remote != o.remote {
			t.Fatalf("answer %q does not round-trip: %+v %v", ans, back, err)
		}
	})
}
