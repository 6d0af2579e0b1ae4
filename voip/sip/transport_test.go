package sip

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"testing/synctest"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/transport/v4/vnet"
)

// optionsFrom is an OPTIONS request from a stranger at from to the phone
// at to, with its own branch and Call-ID.
func optionsFrom(from, to, id string) []byte {
	return []byte("OPTIONS sip:phone@" + to + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + from + ";branch=z9hG4bK" + id + "\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:x@" + from + ">;tag=1\r\nTo: <sip:phone@" + to + ">\r\n" +
		"Call-ID: " + id + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
}

// stranger is a raw UDP socket on a vnet host, for sending the phone what
// an attacker would.
type stranger struct {
	t    *testing.T
	conn net.PacketConn
	to   *net.UDPAddr
	n    int
}

func newStranger(t *testing.T, n *vnet.Net, addr string, to *net.UDPAddr) *stranger {
	t.Helper()
	c, err := n.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stranger{t: t, conn: c, to: to}
}

func (s *stranger) send(b []byte) {
	s.t.Helper()
	if _, err := s.conn.WriteTo(b, s.to); err != nil {
		s.t.Fatalf("send %d bytes: %v", len(b), err)
	}
}

// options sends an OPTIONS and reports whether a 200 for it came back
// within d (fake time).
func (s *stranger) options(d time.Duration) bool {
	s.t.Helper()
	s.n++
	id := fmt.Sprintf("alive%d", s.n)
	s.send(optionsFrom(s.conn.LocalAddr().String(), s.to.String(), id))
	buf := make([]byte, 65535)
	deadline := time.Now().Add(d)
	for {
		s.conn.SetReadDeadline(deadline)
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			return false
		}
		m, err := siplib.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		if r, ok := m.(*siplib.Response); ok && r.StatusCode == 200 && r.CallID() != nil && r.CallID().Value() == id {
			return true
		}
	}
}

// TestOversizedDatagram: one UDP datagram larger than sipgo's 32 KiB
// read buffer, from anyone, used to end sipgo's reader for good (the
// port manager's socket handed it a short-buffer error, and sipgo stops
// on any error but net.ErrClosed). It is now dropped and counted; the
// phone still answers OPTIONS and still refreshes its registration.
func TestOversizedDatagram(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		srvNet := w.host("10.0.0.1")
		phNet := w.host("10.0.0.2")
		xNet := w.host("10.0.0.9")
		w.start()
		rs := &registrarScript{realm: "test", user: "alice", password: "secret", algorithm: "MD5",
			granted: func(int) int { return 120 }}
		reg := newPeer(t, srvNet, "10.0.0.1:5060", rs.handle)
		p := newPhone(t, phNet, func(c *Config) {
			c.Account = Account{User: "alice", Password: "secret", Registrar: reg.addr().String()}
		})
		p.waitReg(t, RegRegistered)
		x := newStranger(t, xNet, "10.0.0.9:5060", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060})
		for _, size := range []int{32769, 40000, 65000} {
			x.send(bytes.Repeat([]byte{'A'}, size))
		}
		synctest.Wait()
		if !x.options(5 * time.Second) {
			t.Fatal("the phone no longer answers OPTIONS after oversized datagrams")
		}
		if got := p.pm.Report().DroppedOversize; got != 3 {
			t.Errorf("Report().DroppedOversize = %d, want 3", got)
		}
		// The refresh (at 90 s of a 120 s binding) still goes out and is answered.
		before := rs.registers()
		time.Sleep(95 * time.Second)
		synctest.Wait()
		if rs.registers() <= before {
			t.Fatal("no REGISTER refresh after the oversized datagrams")
		}
		if st := p.ua.Registration(); st.State != RegRegistered || st.Failures != 0 {
			t.Errorf("registration after refresh = %s (failures %d), want registered", st.State, st.Failures)
		}
	})
}
