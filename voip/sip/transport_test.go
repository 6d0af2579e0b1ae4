package sip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
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

// faultConn is a socket wrapper that fails a read with a non-close error
// whenever the datagram it read is exactly "KILL".
type faultConn struct {
	net.PacketConn
	kills atomic.Int64
}

var errInjected = errors.New("injected read error")

func (c *faultConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(p)
	if err == nil && string(p[:n]) == "KILL" {
		c.kills.Add(1)
		return 0, nil, errInjected
	}
	return n, from, err
}

// faultMapper hands the UA SIP sockets wrapped in a faultConn.
type faultMapper struct {
	portmgr.Mapper
	conn *faultConn
}

func (f *faultMapper) Map(ctx context.Context, k portmgr.Kind, tr portmgr.Transport, remote netip.AddrPort) (*portmgr.Mapping, error) {
	mp, err := f.Mapper.Map(ctx, k, tr, remote)
	if err == nil && k == portmgr.KindSIP && mp.Conn != nil {
		f.conn = &faultConn{PacketConn: mp.Conn}
		mp.Conn = f.conn
	}
	return mp, err
}

// registeredPhone is a phone at 10.0.0.2 registered with a scripted
// registrar at 10.0.0.1 (120 s bindings), and a stranger at 10.0.0.9.
func registeredPhone(t *testing.T, mutate func(*Config)) (*phone, *registrarScript, *stranger) {
	t.Helper()
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
		if mutate != nil {
			mutate(c)
		}
	})
	p.waitReg(t, RegRegistered)
	x := newStranger(t, xNet, "10.0.0.9:5060", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 5060})
	return p, rs, x
}

// TestReadErrorKeepsSIP: a read error from the socket wrapper below the
// UA (anything but net.ErrClosed) does not end SIP: it is counted and
// the read retried. sipgo alone would stop reading for good.
func TestReadErrorKeepsSIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fm *faultMapper
		p, _, x := registeredPhone(t, func(c *Config) {
			fm = &faultMapper{Mapper: c.Mapper}
			c.Mapper = fm
		})
		x.send([]byte("KILL"))
		synctest.Wait()
		if fm.conn.kills.Load() != 1 {
			t.Fatalf("the fault was not injected")
		}
		if !x.options(5 * time.Second) {
			t.Fatal("the phone no longer answers OPTIONS after a read error")
		}
		if st := p.ua.Transport(); st.State != TransportUp || st.ReadErrors != 1 || st.Restarts != 0 {
			t.Errorf("transport status = %+v, want up, 1 read error, no restart", st)
		}
	})
}

// TestTransportWatchdog: when sipgo's UDP reader ends for any reason
// while the UA runs, the UA notices, serves the socket again, registers
// again, and reports the restart; OPTIONS are answered again.
func TestTransportWatchdog(t *testing.T) {
	var hooked atomic.Pointer[faultConn]
	serveHook = func(c net.PacketConn) net.PacketConn {
		h := &faultConn{PacketConn: c}
		hooked.CompareAndSwap(nil, h) // the first reader's, the one the fault ends
		return h
	}
	// Registered first, so it runs after the phone's cleanup closed the UA.
	t.Cleanup(func() { serveHook = nil })
	synctest.Test(t, func(t *testing.T) {
		p, rs, x := registeredPhone(t, nil)
		before := rs.registers()
		x.send([]byte("KILL")) // ends sipgo's reader: the hook sits above the guard
		synctest.Wait()
		if hooked.Load().kills.Load() != 1 {
			t.Fatalf("the fault was not injected")
		}
		// Status never says registered while nothing reads the socket.
		if r := p.waitReg(t, RegFailed); !strings.Contains(r.Reason, "transport down") {
			t.Errorf("registration while down: %q, want the transport named", r.Reason)
		}
		p.waitReg(t, RegRegistered)
		if !x.options(5 * time.Second) {
			t.Fatal("the phone no longer answers OPTIONS after its reader ended")
		}
		if st := p.ua.Transport(); st.LastError == "" {
			t.Errorf("transport status = %+v, want the reason of the restart", st)
		}
		wantRebuilt(t, p, rs, before)
	})
}

// TestSocketClosedUnderUA: when the SIP socket is closed under the UA
// (not by Close), the UA takes a new one from the port manager, serves
// it and registers from it.
func TestSocketClosedUnderUA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rs, x := registeredPhone(t, nil)
		before := rs.registers()
		old := p.ua.mapping()
		old.Conn.Close()
		time.Sleep(time.Second)
		synctest.Wait()
		mp := p.ua.mapping()
		if mp == old {
			t.Fatal("the UA kept the closed mapping")
		}
		x.to = net.UDPAddrFromAddrPort(mp.Local())
		if !x.options(5 * time.Second) {
			t.Fatal("the phone does not answer OPTIONS on its new socket")
		}
		wantRebuilt(t, p, rs, before)
	})
}

// TestLargeResponseSent: a response that does not fit 1300 bytes (here a
// 200 to an OPTIONS that came through a long Via chain) is sent, not
// dropped: sipgo refused to write it and its transaction died.
func TestLargeResponseSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, x := registeredPhone(t, nil)
		var vias strings.Builder
		for i := range 12 {
			fmt.Fprintf(&vias, "Via: SIP/2.0/UDP proxy%d.example.com:5060;branch=z9hG4bK%s\r\n", i, strings.Repeat("p", 80))
		}
		opt := string(optionsFrom("10.0.0.9:5060", "10.0.0.2:5060", "bigresp"))
		opt = strings.Replace(opt, "Max-Forwards:", vias.String()+"Max-Forwards:", 1)
		x.send([]byte(opt))
		buf := make([]byte, 65535)
		x.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := x.conn.ReadFrom(buf)
		if err != nil {
			t.Fatal("no response to a request whose response exceeds 1300 bytes")
		}
		if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200 ")) || n <= 1300 {
			t.Errorf("got %d bytes: %.40q, want a 200 over 1300 bytes", n, buf[:n])
		}
	})
}

// TestVersionNotSupported: a 505 names our version in its status line,
// not the one the request used (RFC 3261 §8.2.1 answers SIP/7.0 with
// "SIP/2.0 505").
func TestVersionNotSupported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, x := registeredPhone(t, nil)
		opt := strings.Replace(string(optionsFrom("10.0.0.9:5060", "10.0.0.2:5060", "v7")), " SIP/2.0\r\n", " SIP/7.0\r\n", 1)
		x.send([]byte(opt))
		buf := make([]byte, 65535)
		x.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := x.conn.ReadFrom(buf)
		if err != nil {
			t.Fatal("no answer to a SIP/7.0 request")
		}
		if line, _, _ := bytes.Cut(buf[:n], []byte("\r\n")); !bytes.HasPrefix(line, []byte("SIP/2.0 505 ")) {
			t.Errorf("status line %q, want SIP/2.0 505", line)
		}
	})
}

// wantRebuilt checks a UA after one transport rebuild: the transport is
// up after one restart, it sent a REGISTER since before (the registrar's
// count then), and it is registered.
func wantRebuilt(t *testing.T, p *phone, rs interface{ registers() int }, before int) {
	t.Helper()
	if st := p.ua.Transport(); st.State != TransportUp || st.Restarts != 1 {
		t.Errorf("transport status = %+v, want up after 1 restart", st)
	}
	if rs.registers() <= before {
		t.Error("no REGISTER after the transport was rebuilt")
	}
	if r := p.ua.Registration(); r.State != RegRegistered {
		t.Errorf("registration = %s, want registered", r.State)
	}
}
