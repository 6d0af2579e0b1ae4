//go:build linux

package dhcp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPacketConnUnicast checks the Linux side of a renewal: SendTo sends
// a REQUEST from port 68 through the kernel to a server's address, and
// the server's unicast answer is read from the packet socket. It runs in
// a network namespace of its own holding only loopback: the test re-runs
// itself under `unshare -rn` (skipped where user namespaces are not
// available).
func TestPacketConnUnicast(t *testing.T) {
	if os.Getenv("DESKPHONE_NETNS_CHILD") != "1" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("unshare (util-linux) not installed")
		}
		if err := exec.Command(unshare, "-rn", "true").Run(); err != nil {
			t.Skipf("no user+network namespace here: %v", err)
		}
		cmd := exec.Command(unshare, "-rn", os.Args[0], "-test.run=^TestPacketConnUnicast$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "DESKPHONE_NETNS_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a new namespace: %v\n%s", err, out)
		}
		t.Logf("in a new namespace:\n%s", out)
		return
	}
	if err := LinkUp("lo"); err != nil {
		t.Fatal(err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := net.ListenPacket("udp4", "127.0.0.1:67")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	pc, err := OpenPacketConn(lo)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	c := &Client{Conn: pc, MAC: testMAC, XID: 41}
	// The server: answer the REQUEST with an ACK to where it came from.
	served := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		n, from, err := srv.ReadFrom(buf)
		if err != nil {
			served <- err
			return
		}
		m, err := Parse(buf[:n])
		if err != nil {
			served <- err
			return
		}
		if m.Type() != Request || m.CIAddr != netip.MustParseAddr("127.0.0.1") || from.(*net.UDPAddr).Port != 68 {
			served <- &net.AddrError{Err: "unexpected request", Addr: from.String()}
			return
		}
		ack := &Message{Op: 2, XID: m.XID, CHAddr: m.CHAddr, YIAddr: m.CIAddr,
			Options: map[byte][]byte{optMsgType: {Ack}, optServerID: {127, 0, 0, 1}, optSubnetMask: {255, 0, 0, 0}, optLeaseTime: {0, 0, 0x0e, 0x10}}}
		_, err = srv.WriteTo(ack.Marshal(), from)
		served <- err
	}()
	l := &Lease{Addr: netip.MustParsePrefix("127.0.0.1/8"), Server: netip.MustParseAddr("127.0.0.1"), Start: time.Now()}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	nl, err := c.extend(ctx, l, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if nl.Addr != l.Addr || nl.Duration != time.Hour {
		t.Fatalf("lease %+v", nl)
	}
	if err := c.Release(nl); err != nil {
		t.Fatal(err)
	}
}
