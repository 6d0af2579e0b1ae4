package pbx

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/sdp"
)

// media opens an RTP socket on the phone's host.
func (p *phone) media(port int) (net.PacketConn, netip.AddrPort) {
	p.t.Helper()
	ap := netip.AddrPortFrom(p.addr.Addr(), uint16(port))
	c, err := p.net.ListenPacket("udp", ap.String())
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close() })
	return c, ap
}

// responseTo reads until a response with code for method arrives,
// skipping others (retransmissions, 100, 183...).
func (p *phone) responseTo(method sip.RequestMethod, code int) *sip.Response {
	p.t.Helper()
	for {
		m := p.recv()
		if res, ok := m.(*sip.Response); ok && res.CSeq().MethodName == method && res.StatusCode == code {
			return res
		}
	}
}

// sdpAudio returns the RTP address of an SDP answer.
func sdpAudio(t *testing.T, body []byte) netip.AddrPort {
	t.Helper()
	s, err := sdp.Parse(body)
	if err != nil || len(s.Media) == 0 {
		t.Fatalf("SDP %q: %v", body, err)
	}
	conn := s.Media[0].Conn
	if !conn.IsValid() {
		conn = s.Conn
	}
	return netip.AddrPortFrom(conn, uint16(s.Media[0].Port))
}

// inDialog builds a request inside the dialog of inv answered by res.
func (p *phone) inDialog(inv *req, res *sip.Response, method string) *req {
	r := *inv
	r.method, r.body, r.extra, r.branch = method, "", nil, branch()
	r.ruri = res.Contact().Address.String()
	r.toTag, _ = res.To().Params.Get("tag")
	if method != "ACK" {
		p.cseq++
		r.cseq = p.cseq
	}
	return &r
}

// readRTP reads one RTP packet.
func readRTP(t *testing.T, c net.PacketConn) (*rtp.Packet, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	c.SetReadDeadline(time.Now().Add(readTimeout))
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no RTP: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	ap := from.(*net.UDPAddr).AddrPort()
	return &p, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// goertzel returns the normalised power of freq in samples.
func goertzel(samples []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / sampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, x := range samples {
		v := float64(x) / 32768
		energy += v * v
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	return p / (energy * float64(len(samples)) / 2)
}

// TestEcho calls the echo service: every RTP payload comes back, from
// the PBX's media address, under the PBX's own SSRC.
func TestEcho(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	mc, maddr := alice.media(4000)
	inv := alice.invite("echo", sdpOffer(maddr))
	ok := alice.responseTo(sip.INVITE, 200)
	if ct := ok.GetHeader("Content-Type"); ct == nil || ct.Value() != "application/sdp" {
		t.Fatalf("Content-Type %v", ct)
	}
	if !strings.Contains(string(ok.Body()), "a=rtpmap:0 PCMU/8000") || !strings.Contains(string(ok.Body()), "telephone-event") {
		t.Fatalf("answer %q", ok.Body())
	}
	remote := sdpAudio(t, ok.Body())
	alice.send(alice.inDialog(inv, ok, "ACK"))
	callID := inv.callID

	const n = 5
	for i := range n {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(100 + i),
			Timestamp: uint32(160 * i), SSRC: 0x1234}, Payload: bytes.Repeat([]byte{byte(i + 1)}, 160)}
		raw, _ := pkt.Marshal()
		if _, err := mc.WriteTo(raw, net.UDPAddrFromAddrPort(remote)); err != nil {
			t.Fatal(err)
		}
		got, from := readRTP(t, mc)
		if from != remote {
			t.Fatalf("echo from %s, want %s", from, remote)
		}
		if !bytes.Equal(got.Payload, pkt.Payload) || got.PayloadType != 0 || got.SSRC == 0x1234 {
			t.Fatalf("echo packet %d: pt %d ssrc %x payload %v", i, got.PayloadType, got.SSRC, got.Payload[:4])
		}
	}
	rx, tx, live := b.pbx.ServiceStats(callID)
	if !live || rx != n || tx != n {
		t.Fatalf("stats rx %d tx %d live %v", rx, tx, live)
	}
	alice.send(alice.inDialog(inv, ok, "BYE"))
	alice.responseTo(sip.BYE, 200)
	if _, _, live := b.pbx.ServiceStats(callID); live {
		t.Fatal("service call alive after BYE")
	}
}

// TestTone calls the tone service and finds 1 kHz in the decoded RTP.
func TestTone(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	mc, maddr := alice.media(4002)
	offer := strings.Replace(sdpOffer(maddr), "RTP/AVP 0 8 101", "RTP/AVP 8 0 101", 1)
	inv := alice.invite("tone", offer)
	ok := alice.responseTo(sip.INVITE, 200)
	if !strings.Contains(string(ok.Body()), "a=rtpmap:8 PCMA/8000") {
		t.Fatalf("answer should follow the offerer's preference: %q", ok.Body())
	}
	alice.send(alice.inDialog(inv, ok, "ACK"))
	var pcm []int16
	for range 10 {
		p, _ := readRTP(t, mc)
		if p.PayloadType != 8 || len(p.Payload) != 160 {
			t.Fatalf("pt %d len %d", p.PayloadType, len(p.Payload))
		}
		pcm = codec.PCMA.Decode(pcm, p.Payload)
	}
	on, off := goertzel(pcm, 1000), goertzel(pcm, 400)
	if on < 0.5 || off > 0.01 {
		t.Fatalf("1 kHz power %.3f, 400 Hz power %.3f", on, off)
	}
	alice.send(alice.inDialog(inv, ok, "BYE"))
	alice.responseTo(sip.BYE, 200)
}

// TestEarlyPRACK: the early service sends a reliable 183 with SDP,
// retransmits it until PRACK, plays the announcement, answers only after
// the PRACK, then echoes.
func TestEarlyPRACK(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	mc, maddr := alice.media(4004)
	inv := alice.invite("early", sdpOffer(maddr), "Supported: 100rel, timer")
	first := alice.responseTo(sip.INVITE, 183)
	if !hasHeaderToken(first, "Require", "100rel") || first.GetHeader("RSeq") == nil || len(first.Body()) == 0 {
		t.Fatalf("183 not reliable or without SDP: %s", first)
	}
	rseq := first.GetHeader("RSeq").Value()
	// Not PRACKed yet: the same 183 comes again (T1 = 20 ms here).
	again := alice.responseTo(sip.INVITE, 183)
	if again.GetHeader("RSeq").Value() != rseq {
		t.Fatalf("retransmitted RSeq %s, want %s", again.GetHeader("RSeq").Value(), rseq)
	}
	// Early media: the 400+450 Hz announcement.
	var pcm []int16
	for range 5 {
		p, _ := readRTP(t, mc)
		pcm = codec.PCMU.Decode(pcm, p.Payload)
	}
	if goertzel(pcm, 400) < 0.2 || goertzel(pcm, 450) < 0.2 || goertzel(pcm, 1000) > 0.01 {
		t.Fatalf("announcement powers 400 %.3f 450 %.3f 1000 %.3f", goertzel(pcm, 400), goertzel(pcm, 450), goertzel(pcm, 1000))
	}
	// A PRACK with the wrong RSeq is refused.
	bad := alice.inDialog(inv, first, "PRACK")
	bad.extra = []string{"RAck: 1 " + strconv.Itoa(int(inv.cseq)) + " INVITE"}
	if rseq == "1" {
		bad.extra = []string{"RAck: 2 " + strconv.Itoa(int(inv.cseq)) + " INVITE"}
	}
	alice.send(bad)
	alice.responseTo(sip.PRACK, 481)
	pr := alice.inDialog(inv, first, "PRACK")
	pr.extra = []string{fmt.Sprintf("RAck: %s %d INVITE", rseq, inv.cseq)}
	alice.send(pr)
	alice.responseTo(sip.PRACK, 200)
	ok := alice.responseTo(sip.INVITE, 200)
	alice.send(alice.inDialog(inv, ok, "ACK"))
	alice.send(alice.inDialog(inv, ok, "BYE"))
	alice.responseTo(sip.BYE, 200)
}

// TestEarlyUnreliable: without 100rel the 183 is sent once, without RSeq,
// and the 200 follows after the announcement.
func TestEarlyUnreliable(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	_, maddr := alice.media(4006)
	inv := alice.invite("early", sdpOffer(maddr))
	first := alice.responseTo(sip.INVITE, 183)
	if first.GetHeader("RSeq") != nil || hasHeaderToken(first, "Require", "100rel") {
		t.Fatalf("unreliable 183 expected: %s", first)
	}
	ok := alice.responseTo(sip.INVITE, 200)
	t1, _ := first.To().Params.Get("tag")
	t2, _ := ok.To().Params.Get("tag")
	if t1 != t2 || t1 == "" {
		t.Fatalf("To tags differ: %q %q", t1, t2)
	}
	alice.send(alice.inDialog(inv, ok, "ACK"))
}

// TestEarlyNoPRACK: a reliable 183 never PRACKed ends in a 5xx after
// 64*T1 (RFC 3262 §3).
func TestEarlyNoPRACK(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	_, maddr := alice.media(4008)
	inv := alice.invite("early", sdpOffer(maddr), "Require: 100rel")
	res := alice.responseTo(sip.INVITE, 500)
	alice.ackNon2xx(inv, res)
	if _, _, live := b.pbx.ServiceStats(inv.callID); live {
		t.Fatal("service call alive")
	}
}

// TestServiceCancel: CANCEL during early media gives 200 and 487 and
// ends the service call.
func TestServiceCancel(t *testing.T) {
	b := newBench(t, func(c *Config) { c.EarlyDuration = time.Minute })
	alice := b.newPhone("alice")
	_, maddr := alice.media(4010)
	inv := alice.invite("early", sdpOffer(maddr))
	alice.responseTo(sip.INVITE, 183)
	c := *inv
	c.method, c.body, c.extra, c.noContact = "CANCEL", "", nil, true
	alice.send(&c)
	alice.responseTo(sip.CANCEL, 200)
	res := alice.responseTo(sip.INVITE, 487)
	alice.ackNon2xx(inv, res)
	if _, _, live := b.pbx.ServiceStats(inv.callID); live {
		t.Fatal("service call alive after CANCEL")
	}
}

// TestServiceNoSDP: an INVITE without offer to a service gets 488.
func TestServiceNoSDP(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	inv := alice.invite("echo", "")
	alice.ackNon2xx(inv, alice.responseTo(sip.INVITE, 488))
}

func hasHeaderToken(m sip.Message, name, tok string) bool {
	for _, v := range headerValues(m, name) {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), tok) {
				return true
			}
		}
	}
	return false
}

// TestHoldReinvite: a re-INVITE with sendonly (the caller holds) is
// answered recvonly from the same session, with a new version, and the
// service stops sending.
func TestHoldReinvite(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	_, maddr := alice.media(4012)
	inv := alice.invite("tone", sdpOffer(maddr))
	ok := alice.responseTo(sip.INVITE, 200)
	alice.send(alice.inDialog(inv, ok, "ACK"))
	first, err := sdp.Parse(ok.Body())
	if err != nil {
		t.Fatal(err)
	}
	re := alice.inDialog(inv, ok, "INVITE")
	re.body = strings.Replace(sdpOffer(maddr), "a=sendrecv", "a=sendonly", 1)
	alice.send(re)
	res := alice.responseTo(sip.INVITE, 200)
	for res.CSeq().SeqNo != re.cseq { // a late retransmission of the first 200
		res = alice.responseTo(sip.INVITE, 200)
	}
	held, err := sdp.Parse(res.Body())
	if err != nil {
		t.Fatal(err)
	}
	if held.Media[0].Direction != sdp.RecvOnly {
		t.Fatalf("answer to sendonly is %v", held.Media[0].Direction)
	}
	if held.Origin.SessionID != first.Origin.SessionID || held.Origin.SessionVersion == first.Origin.SessionVersion {
		t.Fatalf("o= %+v then %+v", first.Origin, held.Origin)
	}
	c := b.pbx.service(inv.callID)
	if c == nil || c.media.sending.Load() {
		t.Fatal("tone still sending while held")
	}
}

// TestMediaSendGate: with sending off nothing leaves the socket.
func TestMediaSendGate(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	mc, maddr := alice.media(4014)
	pconn, err := b.pbx.cfg.Net.ListenPacket("udp", "10.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMediaSession(pconn, codec.PCMU, 0, maddr, modeSilent)
	defer m.close()
	m.setSend(false)
	m.send(0, false, []byte{1, 2, 3}, 3)
	m.setSend(true)
	m.send(0, false, []byte{4, 5, 6}, 3)
	p, _ := readRTP(t, mc)
	if !bytes.Equal(p.Payload, []byte{4, 5, 6}) || m.sent.Load() != 1 {
		t.Fatalf("first packet %v, sent %d", p.Payload, m.sent.Load())
	}
}

// TestEndedServiceCall: a BYE for a service call that is over gets 481,
// not a loop through the PBX.
func TestEndedServiceCall(t *testing.T) {
	b := newBench(t, nil)
	alice := b.newPhone("alice")
	_, maddr := alice.media(4016)
	inv := alice.invite("echo", sdpOffer(maddr))
	ok := alice.responseTo(sip.INVITE, 200)
	alice.send(alice.inDialog(inv, ok, "ACK"))
	alice.send(alice.inDialog(inv, ok, "BYE"))
	alice.responseTo(sip.BYE, 200)
	alice.send(alice.inDialog(inv, ok, "BYE"))
	alice.responseTo(sip.BYE, 481)
}
