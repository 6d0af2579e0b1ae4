package portmgr

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func listenLoop4(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRawUDP: datagrams both ways between an ordinary socket and the raw
// path, with the sender's address; an IPv6 destination is refused; a read
// deadline is a timeout and Close ends a read with net.ErrClosed, as on
// the net package's path; no allocation per datagram.
func TestRawUDP(t *testing.T) {
	a, b := listenLoop4(t), listenLoop4(t)
	r := newRawUDP(a)
	if r == nil {
		t.Fatal("no raw path for an IPv4 UDP socket")
	}
	aAddr := a.LocalAddr().(*net.UDPAddr).AddrPort()
	bAddr := b.LocalAddr().(*net.UDPAddr).AddrPort()

	if _, err := b.WriteToUDPAddrPort([]byte("hello"), aAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := r.readFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || from != bAddr {
		t.Fatalf("readFrom = %d %q %v %v, want 5 hello %v", n, buf[:n], from, err, bAddr)
	}
	// A mapped destination is unmapped.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(bAddr.Addr().As16()), bAddr.Port())
	if n, err := r.writeTo([]byte("back"), mapped); err != nil || n != 4 {
		t.Fatalf("writeTo = %d, %v", n, err)
	}
	n, from, err = b.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "back" || from != aAddr {
		t.Fatalf("peer read %q from %v (%v), want back from %v", buf[:n], from, err, aAddr)
	}
	if _, err := r.writeTo([]byte("x"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("writeTo an IPv6 address from an IPv4 socket succeeded")
	}

	allocs := testing.AllocsPerRun(100, func() {
		if _, err := b.WriteToUDPAddrPort([]byte("ping"), aAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.readFrom(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := r.writeTo(buf[:4], bAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per datagram round trip, want 0", allocs)
	}

	if err := a.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.readFrom(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	a.Close()
	if _, _, err := r.readFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := r.writeTo(buf[:1], bAddr); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

func listenLoop6(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRawUDP6: the same on an IPv6 socket: both ways with the sender's
// address, an IPv4 (or IPv4-mapped) destination refused, no allocation
// per datagram, net.ErrClosed after Close.
func TestRawUDP6(t *testing.T) {
	a, b := listenLoop6(t), listenLoop6(t)
	r := newRawUDP(a)
	if r == nil || !r.v6 {
		t.Fatal("no IPv6 raw path for an IPv6 UDP socket")
	}
	aAddr := a.LocalAddr().(*net.UDPAddr).AddrPort()
	bAddr := b.LocalAddr().(*net.UDPAddr).AddrPort()
	if _, err := b.WriteToUDPAddrPort([]byte("hello"), aAddr); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := r.readFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || from != bAddr {
		t.Fatalf("readFrom = %d %q %v %v, want 5 hello %v", n, buf[:n], from, err, bAddr)
	}
	if n, err := r.writeTo([]byte("back"), bAddr); err != nil || n != 4 {
		t.Fatalf("writeTo = %d, %v", n, err)
	}
	n, from, err = b.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "back" || from != aAddr {
		t.Fatalf("peer read %q from %v (%v), want back from %v", buf[:n], from, err, aAddr)
	}
	for _, to := range []string{"127.0.0.1:9", "[::ffff:127.0.0.1]:9"} {
		if _, err := r.writeTo([]byte("x"), netip.MustParseAddrPort(to)); err == nil {
			t.Errorf("writeTo %s from an IPv6 socket succeeded", to)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := b.WriteToUDPAddrPort([]byte("ping"), aAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.readFrom(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := r.writeTo(buf[:4], bAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per datagram round trip, want 0", allocs)
	}
	a.Close()
	if _, _, err := r.readFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := r.writeTo(buf[:1], bAddr); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

// TestRawUDPZones: a source's scope id is named as the net package names
// it (the interface, else the number) and a destination's zone turned
// back into the scope id, each looked up only when it changes.
func TestRawUDPZones(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no lo: %v", err)
	}
	var zn zoneName
	if got := zn.of(0); got != "" {
		t.Errorf("scope 0 named %q", got)
	}
	if got := zn.of(uint32(lo.Index)); got != "lo" {
		t.Errorf("scope %d named %q, want lo", lo.Index, got)
	}
	if got := zn.of(1 << 30); got != "1073741824" {
		t.Errorf("an unknown scope named %q, want its number", got)
	}
	var zi zoneIndex
	for _, tc := range []struct {
		zone string
		want uint32
	}{{"", 0}, {"lo", uint32(lo.Index)}, {"7", 7}, {"no-such-if", 0}, {"lo", uint32(lo.Index)}} {
		if got := zi.of(tc.zone); got != tc.want {
			t.Errorf("zone %q: scope %d, want %d", tc.zone, got, tc.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { zn.of(uint32(lo.Index)); zi.of("lo") })
	if allocs != 0 {
		t.Errorf("%v allocations per lookup of an unchanged zone", allocs)
	}
}

// TestRawUDPOnlyUDP: other PacketConns keep the net package's path.
func TestRawUDPOnlyUDP(t *testing.T) {
	if newRawUDP(nil) != nil {
		t.Error("raw path for a nil PacketConn")
	}
}
