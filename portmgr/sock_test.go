package portmgr_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
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
