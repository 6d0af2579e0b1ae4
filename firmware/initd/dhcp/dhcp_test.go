package dhcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// fakeServer is a DHCP server behind a Conn: it answers DISCOVER with
// an OFFER and REQUEST with an ACK (or a NAK), and counts what it saw.
type fakeServer struct {
	toClient  chan []byte
	seen      []byte // message types received, in order
	dropFirst int    // DISCOVERs to ignore (lost packets)
	nakFirst  bool
	other     bool // answer with another transaction first
}

func (s *fakeServer) Send(b []byte) error {
	m, err := Parse(b)
	if err != nil {
		return err
	}
	s.seen = append(s.seen, m.Type())
	reply := &Message{Op: 2, XID: m.XID, CHAddr: m.CHAddr, YIAddr: netip.MustParseAddr("10.0.2.15"),
		Options: map[byte][]byte{optServerID: {10, 0, 2, 2}}}
	switch m.Type() {
	case Discover:
		if s.dropFirst > 0 {
			s.dropFirst--
			return nil
		}
		if s.other {
			o := *reply
			o.XID++
			o.Options = map[byte][]byte{optMsgType: {Offer}, optServerID: {9, 9, 9, 9}}
			s.toClient <- o.Marshal()
		}
		reply.Options[optMsgType] = []byte{Offer}
	case Request:
		if !bytes.Equal(m.Options[optRequested], []byte{10, 0, 2, 15}) || !bytes.Equal(m.Options[optServerID], []byte{10, 0, 2, 2}) {
			return errors.New("request without requested address or server id")
		}
		if s.nakFirst {
			s.nakFirst = false
			reply.Options[optMsgType] = []byte{Nak}
			break
		}
		reply.Options[optMsgType] = []byte{Ack}
		reply.Options[optSubnetMask] = []byte{255, 255, 255, 0}
		reply.Options[optRouter] = []byte{10, 0, 2, 2}
		reply.Options[optDNS] = []byte{10, 0, 2, 3, 10, 0, 2, 4}
		lt := make([]byte, 4)
		binary.BigEndian.PutUint32(lt, 86400)
		reply.Options[optLeaseTime] = lt
	default:
		return nil
	}
	s.toClient <- reply.Marshal()
	return nil
}

func (s *fakeServer) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-s.toClient:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var testMAC = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}

func TestDHCPAcquire(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  fakeServer
		want string
	}{
		{"plain", fakeServer{}, "\x01\x03"},
		{"lost discover", fakeServer{dropFirst: 2}, "\x01\x01\x01\x03"},
		{"nak then ack", fakeServer{nakFirst: true}, "\x01\x03\x01\x03"},
		{"foreign transaction ignored", fakeServer{other: true}, "\x01\x03"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := tc.srv
				srv.toClient = make(chan []byte, 4)
				c := &Client{Conn: &srv, MAC: testMAC, Hostname: "phone"}
				start := time.Now()
				l, err := c.Acquire(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if l.Addr != netip.MustParsePrefix("10.0.2.15/24") || l.Router != netip.MustParseAddr("10.0.2.2") ||
					len(l.DNS) != 2 || l.DNS[0] != netip.MustParseAddr("10.0.2.3") || l.Duration != 24*time.Hour || l.Renew != 12*time.Hour {
					t.Fatalf("lease %+v", l)
				}
				if string(srv.seen) != tc.want {
					t.Fatalf("server saw types %v, want %v", srv.seen, []byte(tc.want))
				}
				// Two lost DISCOVERs cost 4 s + 8 s of waiting.
				if tc.srv.dropFirst == 2 && time.Since(start) != 12*time.Second {
					t.Fatalf("back-off took %v", time.Since(start))
				}
			})
		})
	}
}

func TestDHCPNoServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{toClient: make(chan []byte), dropFirst: 1 << 30}
		// 70 s, not 60: a deadline on the very instant the fourth
		// wait ends would race it.
		ctx, cancel := context.WithTimeout(t.Context(), 70*time.Second)
		defer cancel()
		_, err := (&Client{Conn: srv, MAC: testMAC}).Acquire(ctx)
		if !errors.Is(err, ErrNoLease) {
			t.Fatalf("err %v", err)
		}
		// DISCOVERs at 0, 4, 12, 28 and 60 s; the context ended during
		// the fifth wait.
		if len(srv.seen) != 5 {
			t.Fatalf("%d DISCOVERs in a minute", len(srv.seen))
		}
	})
}

func TestDHCPMarshalParse(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300)
	m := &Message{Op: 1, XID: 0xdeadbeef, Flags: dhcpBroadcast, CHAddr: testMAC,
		Options: map[byte][]byte{optMsgType: {Discover}, optHostname: long}}
	b := m.Marshal()
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.XID != m.XID || got.Flags != dhcpBroadcast || !bytes.Equal(got.CHAddr, testMAC) || got.Type() != Discover ||
		!bytes.Equal(got.Options[optHostname], long) {
		t.Fatalf("round trip: %+v", got)
	}
	for _, bad := range [][]byte{nil, b[:100], append(append([]byte(nil), b[:dhcpMinLen]...), 12, 200, 'x'), b[:dhcpMinLen]} {
		if _, err := Parse(bad); !errors.Is(err, ErrBadPacket) {
			t.Fatalf("%d bytes: %v", len(bad), err)
		}
	}
	if _, err := unframeUDP(frameUDP(b, dhcpClientPort, dhcpServerPort)); err == nil {
		t.Fatal("a datagram to port 67 accepted")
	}
	// Framed and unframed again.
	p, err := unframeUDP(frameUDP(b, dhcpServerPort, dhcpClientPort))
	if err != nil || !bytes.Equal(p, b) {
		t.Fatalf("frame round trip: %v", err)
	}
	if ipChecksum(frameUDP(b, 68, 67)[:20]) != 0 {
		t.Fatal("IPv4 header checksum does not verify")
	}
}

func FuzzParse(f *testing.F) {
	f.Add((&Message{Op: 2, XID: 1, CHAddr: testMAC, YIAddr: netip.MustParseAddr("10.0.2.15"),
		Options: map[byte][]byte{optMsgType: {Ack}, optSubnetMask: {255, 255, 255, 0}}}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		_, _ = leaseFromAck(m)
		again, err := Parse(m.Marshal())
		if err != nil || again.XID != m.XID || again.Type() != m.Type() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzUnframeUDP(f *testing.F) {
	f.Add(frameUDP([]byte("payload"), dhcpServerPort, dhcpClientPort))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = unframeUDP(b)
	})
}
