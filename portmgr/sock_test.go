package portmgr_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
)

// TestOversizedDatagramDropped: a datagram larger than the buffer the
// mapping's user reads with is dropped and counted, not returned cut
// short with an error (sipgo, reading SIP with 32 KiB, stops for good on
// any error but net.ErrClosed). The datagrams around it are delivered.
func TestOversizedDatagramDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
		if err != nil {
			t.Fatal(err)
		}
		pn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}})
		xn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.9"}})
		for _, n := range []*vnet.Net{pn, xn} {
			if err := r.AddNet(n); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		m, err := portmgr.New(portmgr.Config{Net: pn})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		mp, err := m.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, netip.MustParseAddrPort("10.0.0.1:5060"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := xn.ListenPacket("udp4", "10.0.0.9:5060")
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		to := mp.Conn.LocalAddr()
		if a, ok := to.(*net.UDPAddr); ok && a.IP.IsUnspecified() {
			to = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: a.Port}
		}
		for _, b := range [][]byte{[]byte("first"), bytes.Repeat([]byte{'A'}, 40000), []byte("second")} {
			if _, err := x.WriteTo(b, to); err != nil {
				t.Fatal(err)
			}
		}
		buf := make([]byte, 32768)
		for _, want := range []string{"first", "second"} {
			_ = mp.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _, err := mp.Conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("ReadFrom: %v (want %q)", err, want)
			}
			if got := string(buf[:n]); got != want {
				t.Fatalf("ReadFrom = %q, want %q", got, want)
			}
		}
		if got := m.Report().DroppedOversize; got != 1 {
			t.Errorf("Report().DroppedOversize = %d, want 1", got)
		}
		// Only a close ends reads, with net.ErrClosed.
		if err := m.Release(mp); err != nil {
			t.Fatal(err)
		}
		if _, _, err := mp.Conn.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadFrom after Release = %v, want net.ErrClosed", err)
		}
	})
}

// receiver is what a mapping's Conn offers voip/media: datagrams pushed
// in the socket's reader goroutine.
type receiver interface {
	Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func())
}

// TestReceivePushesDatagrams: with a receiver installed, datagrams reach
// it in order (those queued before it first) and not ReadFrom; after
// stop they are queued for ReadFrom again; a Release removes the
// receiver and calls closed once.
func TestReceivePushesDatagrams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "10.0.0.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
		if err != nil {
			t.Fatal(err)
		}
		pn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.2"}})
		xn, _ := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{"10.0.0.9"}})
		for _, n := range []*vnet.Net{pn, xn} {
			if err := r.AddNet(n); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		defer r.Stop()
		m, err := portmgr.New(portmgr.Config{Net: pn, DisableLifetimeProbe: true})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		mp, err := m.Map(context.Background(), portmgr.KindMedia, portmgr.UDP, netip.MustParseAddrPort("10.0.0.9:5000"))
		if err != nil {
			t.Fatal(err)
		}
		x, err := xn.ListenPacket("udp4", "10.0.0.9:5000")
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		to := mp.Conn.LocalAddr()
		if a, ok := to.(*net.UDPAddr); ok && a.IP.IsUnspecified() {
			to = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: a.Port}
		}
		send := func(s string) {
			t.Helper()
			if _, err := x.WriteTo([]byte(s), to); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		rc, ok := mp.Conn.(receiver)
		if !ok {
			t.Fatalf("%T has no Receive", mp.Conn)
		}

		send("queued")
		var got []string
		var froms []netip.AddrPort
		stop := rc.Receive(func(b []byte, from netip.AddrPort) {
			got = append(got, string(b))
			froms = append(froms, from)
		}, func() { t.Error("closed called without a close") })
		send("one")
		send("two")
		if want := []string{"queued", "one", "two"}; !slices.Equal(got, want) {
			t.Fatalf("received %q, want %q", got, want)
		}
		for _, f := range froms {
			if f != netip.MustParseAddrPort("10.0.0.9:5000") {
				t.Fatalf("from %v", f)
			}
		}
		buf := make([]byte, 1500)
		_ = mp.Conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := mp.Conn.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("ReadFrom with a receiver installed = %v, want a deadline error", err)
		}

		stop()
		stop() // idempotent
		send("three")
		_ = mp.Conn.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := mp.Conn.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "three" {
			t.Fatalf("ReadFrom after stop = %q, %v; want three", buf[:n], err)
		}
		if len(got) != 3 {
			t.Fatalf("receiver called after stop: %q", got)
		}

		closed := 0
		got = nil
		rc.Receive(func(b []byte, _ netip.AddrPort) { got = append(got, string(b)) }, func() { closed++ })
		send("four")
		if err := m.Release(mp); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if closed != 1 || !slices.Equal(got, []string{"four"}) {
			t.Fatalf("after Release: closed %d times, received %q", closed, got)
		}
	})
}
