package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
)

// slowMapper delays media mappings, as the port manager does while a
// pair still learns its external address.
type slowMapper struct {
	portmgr.Mapper
	delay time.Duration
}

func (s *slowMapper) Map(ctx context.Context, k portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	if k == portmgr.KindMedia {
		time.Sleep(s.delay)
	}
	return s.Mapper.Map(ctx, k, tr, remote)
}

// TestMergedInvite: a proxy that forks one INVITE to two bindings which
// both reach this phone delivers two INVITEs with one Call-ID and From
// tag but different branches, at the same moment. The first rings; the
// second is a merged request and gets 482 (RFC 3261 §8.2.2.2), even while
// the first is still setting up its media, and the phone sees one call.
func TestMergedInvite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		pn := w.host("10.0.0.2")
		xn := w.host("10.0.0.9")
		w.start()
		p := newPhone(t, pn, func(c *Config) { c.Mapper = &slowMapper{Mapper: c.Mapper, delay: 300 * time.Millisecond} })
		conn, err := xn.ListenPacket("udp4", "10.0.0.9:5060")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		invite := func(branch string) []byte {
			return []byte(fmt.Sprintf("INVITE sip:phone@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK%s\r\n"+
				"Max-Forwards: 70\r\nFrom: <sip:x@10.0.0.9>;tag=f1\r\nTo: <sip:phone@10.0.0.2>\r\nCall-ID: forked-1\r\n"+
				"CSeq: 1 INVITE\r\nContact: <sip:x@10.0.0.9:5060>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
				branch, len(body), body))
		}
		to := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060}
		conn.WriteTo(invite("a1"), to)
		conn.WriteTo(invite("b2"), to)
		codes := readCodes(t, conn, 5*time.Second)
		if !slices.Contains(codes, 180) || !slices.Contains(codes, 482) {
			t.Fatalf("responses %v, want 180 for one copy and 482 for the other", codes)
		}
		incoming := 0
		for len(p.evs) > 0 {
			if _, ok := (<-p.evs).(*IncomingCallEvent); ok {
				incoming++
			}
		}
		if incoming != 1 {
			t.Fatalf("%d incoming calls, want 1", incoming)
		}
		if c := p.ua.callByID("forked-1"); c == nil || c.State() != StateIncoming {
			t.Fatalf("the first copy's call is not ringing: %v", c)
		}
	})
}
