package dtlssrtp

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/sdp"
)

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addr(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

func cert(t *testing.T) *Certificate {
	t.Helper()
	c, err := NewCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pair starts a client and a server Transport on two loopback sockets,
// each expecting the fingerprints given, and waits for both handshakes.
func pair(t *testing.T, ca, cb *Certificate, fpA, fpB sdp.Fingerprint) (a, b *Transport, ua, ub *net.UDPConn) {
	t.Helper()
	ua, ub = udp(t), udp(t)
	var err error
	a, err = New(Config{Conn: ua, Remote: addr(ub), Role: sdp.SetupActive, Fingerprints: []sdp.Fingerprint{fpB},
		Certificate: ca, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = New(Config{Conn: ub, Remote: addr(ua), Role: sdp.SetupPassive, Fingerprints: []sdp.Fingerprint{fpA},
		Certificate: cb, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	<-a.Ready()
	<-b.Ready()
	return a, b, ua, ub
}

func TestHandshakeKeysBothWays(t *testing.T) {
	ca, cb := cert(t), cert(t)
	a, b, _, ub := pair(t, ca, cb, ca.Fingerprint(), cb.Fingerprint())
	if a.Err() != nil || b.Err() != nil {
		t.Fatalf("handshake: %v / %v", a.Err(), b.Err())
	}
	if sa, sb := a.Stats(), b.Stats(); sa.Suite != sdp.SuiteAEADAES128GCM || sb.Suite != sa.Suite || sa.Keying != "dtls" {
		t.Fatalf("stats %+v / %+v", sa, sb)
	}
	got := make(chan []byte, 1)
	stop := b.Conn().Receive(func(p []byte, _ netip.AddrPort) {
		out, err := b.UnprotectRTP(nil, p)
		if err == nil {
			got <- append([]byte(nil), out...)
		}
	}, nil)
	defer stop()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, SSRC: 7}, Payload: []byte("hello srtp")}
	raw, _ := pkt.Marshal()
	sealed, err := a.ProtectRTP(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hello")) {
		t.Fatal("payload in the clear")
	}
	if _, err := a.Conn().WriteToUDPAddrPort(sealed, addr(ub)); err != nil {
		t.Fatal(err)
	}
	if out := <-got; !bytes.Equal(out, raw) {
		t.Fatalf("got %x want %x", out, raw)
	}
}

func TestFingerprintMismatch(t *testing.T) {
	ca, cb, other := cert(t), cert(t), cert(t)
	a, b, _, _ := pair(t, ca, cb, ca.Fingerprint(), other.Fingerprint())
	if !errors.Is(a.Err(), ErrFingerprint) {
		t.Fatalf("client: %v, want ErrFingerprint", a.Err())
	}
	if b.Err() == nil {
		t.Fatal("server keyed although the client refused")
	}
	if _, err := a.ProtectRTP(nil, []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("protect after failure: %v", err)
	}
}

func TestNotReadyRefuses(t *testing.T) {
	c := udp(t)
	tr, err := New(Config{Conn: c, Role: sdp.SetupPassive, Fingerprints: []sdp.Fingerprint{cert(t).Fingerprint()},
		Certificate: cert(t), Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ProtectRTP(nil, []byte{0x80, 0, 0, 1}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("protect: %v", err)
	}
	tr.Close()
	if !errors.Is(tr.Err(), ErrClosed) {
		t.Fatalf("err after close: %v", tr.Err())
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := New(Config{}); !errors.Is(err, ErrBadConfig) {
		t.Fatal(err)
	}
	if _, err := New(Config{Conn: udp(t), Certificate: cert(t), Fingerprints: []sdp.Fingerprint{{}}, Role: sdp.SetupActPass}); !errors.Is(err, ErrBadConfig) {
		t.Fatal(err)
	}
}
