package pbx

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pbx test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// streamPhone connects a phone to the PBX over an established stream.
func streamPhone(t *testing.T, c net.Conn, transport, user string) *phone {
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, transport: transport, stream: c, rd: bufio.NewReader(c),
		addr: netip.MustParseAddrPort(c.LocalAddr().String()), user: user, pass: testUsers[user],
		realm: "pbx.test", cseq: 1, parser: sip.NewParser()}
}

// TestTCPAndTLS runs on the host's loopback with stdnet: bob registers
// over TCP, alice over TLS, and alice's INVITE reaches bob over his own
// TCP connection, with a Record-Route entry per transport (RFC 5658).
func TestTCPAndTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	s, err := New(Config{Realm: "pbx.test", Users: testUsers, Listen: lo, TCP: lo, TLS: lo,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !s.TCPAddr().IsValid() || !s.TLSAddr().IsValid() {
		t.Fatalf("listeners %v %v", s.TCPAddr(), s.TLSAddr())
	}

	tc, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	bob := streamPhone(t, tc, "TCP", "bob")
	bob.register(3600)
	bs := s.Bindings("bob")
	if len(bs) != 1 || bs[0].Transport != "TCP" || bs[0].Source != bob.addr {
		t.Fatalf("bob's binding %+v", bs)
	}

	lc, err := tls.Dial("tcp", s.TLSAddr().String(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	alice := streamPhone(t, lc, "TLS", "alice")
	alice.register(3600)

	alice.invite("bob", sdpOffer(netip.MustParseAddrPort("127.0.0.1:4000")))
	in := bob.request(sip.INVITE)
	rr := headerValues(in, "Record-Route")
	if len(rr) != 2 || !strings.Contains(rr[0], "transport=tcp") || !strings.Contains(rr[1], "transport=tls") {
		t.Fatalf("Record-Route %q", rr)
	}
	if v := in.Via(); v.Transport != "TCP" {
		t.Fatalf("top Via %s", v)
	}
	bob.reply(in, 200, "OK", tag(), []string{"Contact: <sip:bob@" + bob.addr.String() + ";transport=tcp>"},
		sdpOffer(netip.MustParseAddrPort("127.0.0.1:4002")))
	ok := alice.responseTo(sip.INVITE, 200)
	if len(headerValues(ok, "Via")) != 1 {
		t.Fatalf("200 Via %q", headerValues(ok, "Via"))
	}
}

// TestStreamSlowloris: 300 TCP connections that never send a message, and
// one that stops halfway through a message, are not held: the server
// holds at most MaxStreamConns (the rest are closed at once), closes the
// silent ones after StreamIdleTimeout and the half-sent one after
// StreamMessageTimeout, and a phone that connects afterwards registers.
func TestStreamSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("uses loopback sockets")
	}
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	s, err := New(Config{Realm: "pbx.test", Users: testUsers, Listen: lo, TCP: lo, Logger: testLogger(),
		StreamIdleTimeout: 300 * time.Millisecond, StreamMessageTimeout: 300 * time.Millisecond,
		// A cap far below the 300 connections, so some are refused even
		// when a loaded machine dials them slowly (with the default 256
		// the first ones could time out before the cap was reached, and
		// the listener then showed no refusal).
		MaxStreamConns: 50, MaxStreamConnsPerAddr: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	const n = 300
	conns := make([]net.Conn, 0, n+1)
	for range n {
		c, err := net.Dial("tcp", s.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	half, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { half.Close() })
	half.Write([]byte("OPTIONS sip:pbx.test SIP/2.0\r\nContent-Length: 100\r\n\r\nabc"))
	conns = append(conns, half)

	// Every connection is closed by the server: a read ends (EOF or
	// reset) well before the client's own deadline, which only bounds
	// the test.
	deadline := time.Now().Add(20 * time.Second)
	held := 0
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				held++
			}
		}
	}
	if held > 0 {
		t.Fatalf("%d of %d idle or half-sent connections still held", held, len(conns))
	}
	// How many were refused over the cap depends on how many idle ones
	// had already been closed when the last ones connected; the cap
	// itself is sipstream's TestListenerCaps.
	if open, refused := s.StreamStats(); open+refused == 0 {
		t.Errorf("StreamStats = %d open, %d refused: the listener saw nothing", open, refused)
	}

	tc, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	bob := streamPhone(t, tc, "TCP", "bob")
	bob.register(3600)
}
