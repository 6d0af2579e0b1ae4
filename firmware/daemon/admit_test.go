package daemon

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/firmware/config"
)

// strangerInvite is an INVITE sent straight to the phone at port from
// conn, claiming to be the bank.
func strangerInvite(conn net.PacketConn, port int) []byte {
	src := conn.LocalAddr().(*net.UDPAddr)
	body := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", src.IP)
	return []byte(fmt.Sprintf("INVITE sip:1002@127.0.0.1:%[3]d SIP/2.0\r\nVia: SIP/2.0/UDP %[1]s;branch=z9hG4bKstranger\r\n"+
		"Max-Forwards: 70\r\nFrom: \"Your Bank\" <sip:bank@%[2]s>;tag=s1\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: stranger-1\r\n"+
		"CSeq: 1 INVITE\r\nContact: <sip:bank@%[1]s>\r\nContent-Type: application/sdp\r\nContent-Length: %[4]d\r\n\r\n%[5]s",
		src, src.IP, port, len(body), body))
}

// TestStrangerCannotRingAndRingTimeout: with the default config, an
// INVITE straight from a host that is not the PBX gets 403 and the phone
// stays idle; a call through the PBX rings, and unanswered it ends after
// sip.ring_timeout with 480, the phone idle again.
func TestStrangerCannotRingAndRingTimeout(t *testing.T) {
	p := startPBX(t)
	a := startPhone(t, p, "1001", "pw1001", 26260, 440)
	b := startPhoneWith(t, p, "1002", "pw1002", 26460, 1000, func(c *config.Config) { c.SIP.RingTimeout = config.MinRing })
	waitFor(t, "both registered", 10*time.Second, func() bool { return a.registered() && b.registered() })

	// 127.0.0.2 is loopback too, but not the PBX's address.
	conn, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	defer conn.Close()
	if _, err := conn.WriteTo(strangerInvite(conn, 26460), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 26460}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to the stranger's INVITE: %v", err)
	}
	if line, _, _ := strings.Cut(string(buf[:n]), "\r\n"); line != "SIP/2.0 403 Forbidden" {
		t.Fatalf("stranger's INVITE answered %q, want 403", line)
	}
	if st := b.state(); st != "idle" {
		t.Fatalf("B is %s after the stranger's INVITE, want idle", st)
	}

	start := time.Now()
	if err := a.d.Phone().Call(context.Background(), "1002"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B ringing", 5*time.Second, func() bool { return b.state() == "ringing" })
	waitFor(t, "B idle after the ring timeout", config.MinRing+5*time.Second, func() bool { return b.state() == "idle" })
	if d := time.Since(start); d < config.MinRing-time.Second {
		t.Errorf("the call rang for only %s, want about %s", d, config.MinRing)
	}
	waitFor(t, "A told why", 5*time.Second, func() bool { return strings.HasPrefix(a.d.Status().Phone.Error, "480") })
}
