package dhcp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// leaseServer is a DHCP server for a bound client: it answers REQUESTs
// with ciaddr (renewing or rebinding) by unicast and/or broadcast as told,
// and records every message with the time since start.
type leaseServer struct {
	toClient         chan []byte
	start            time.Time
	answerUnicast    bool
	answerBroadcast  bool
	nak              bool
	leaseSecs        uint32
	seen             []seenMsg
	unicastRefused   bool // SendTo fails (no route yet)
	ackWithoutServer bool
}

type seenMsg struct {
	typ     byte
	unicast bool
	to      netip.Addr
	at      time.Duration
	msg     *Message
}

var (
	leaseAddr  = netip.MustParsePrefix("10.0.2.15/24")
	leaseSrvID = netip.MustParseAddr("10.0.2.2")
)

func (s *leaseServer) handle(b []byte, unicast bool, to netip.Addr) error {
	m, err := Parse(b)
	if err != nil {
		return err
	}
	s.seen = append(s.seen, seenMsg{typ: m.Type(), unicast: unicast, to: to, at: time.Since(s.start), msg: m})
	if m.Type() != Request || (unicast && !s.answerUnicast) || (!unicast && !s.answerBroadcast) {
		return nil
	}
	reply := &Message{Op: 2, XID: m.XID, CHAddr: m.CHAddr, YIAddr: m.CIAddr, Options: map[byte][]byte{}}
	if !s.ackWithoutServer {
		reply.Options[optServerID] = []byte{10, 0, 2, 2}
	}
	if s.nak {
		reply.YIAddr = netip.Addr{}
		reply.Options[optMsgType] = []byte{Nak}
	} else {
		reply.Options[optMsgType] = []byte{Ack}
		reply.Options[optSubnetMask] = []byte{255, 255, 255, 0}
		lt := make([]byte, 4)
		binary.BigEndian.PutUint32(lt, s.leaseSecs)
		reply.Options[optLeaseTime] = lt
	}
	s.toClient <- reply.Marshal()
	return nil
}

func (s *leaseServer) Send(b []byte) error { return s.handle(b, false, netip.Addr{}) }

func (s *leaseServer) SendTo(b []byte, to netip.Addr) error {
	if s.unicastRefused {
		s.seen = append(s.seen, seenMsg{typ: 0, unicast: true, to: to, at: time.Since(s.start)})
		return errors.New("network is unreachable")
	}
	return s.handle(b, true, to)
}

func (s *leaseServer) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-s.toClient:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hourLease is a one-hour lease granted now: T1 30 min, T2 52.5 min.
func hourLease() *Lease {
	return &Lease{Addr: leaseAddr, Server: leaseSrvID, Duration: time.Hour, Renew: 30 * time.Minute,
		Rebind: 52*time.Minute + 30*time.Second, Start: time.Now()}
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// TestDHCPRenew: at T1 the client unicasts a REQUEST to its server, with
// ciaddr and without the requested-address and server-id options or the
// broadcast flag (RFC 2131 table 5); the ACK starts a new lease, renewed
// again at its own T1.
func TestDHCPRenew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now(), answerUnicast: true, leaseSecs: 3600}
		c := &Client{Conn: srv, MAC: testMAC}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var renewedAt []time.Duration
		last, err := c.Keep(ctx, hourLease(), func(l *Lease) {
			renewedAt = append(renewedAt, time.Since(srv.start))
			if l.Addr != leaseAddr || l.Duration != time.Hour || l.Server != leaseSrvID || l.Rebind != secs(3150) {
				t.Errorf("renewed lease %+v", l)
			}
			if len(renewedAt) == 2 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || last.Start.Sub(srv.start) != 3600*time.Second {
			t.Fatalf("Keep: %v, last lease from %v", err, last.Start.Sub(srv.start))
		}
		if len(renewedAt) != 2 || renewedAt[0] != 1800*time.Second || renewedAt[1] != 3600*time.Second {
			t.Fatalf("renewed at %v", renewedAt)
		}
		for _, s := range srv.seen {
			m := s.msg
			if s.typ != Request || !s.unicast || s.to != leaseSrvID || m.CIAddr != leaseAddr.Addr() || m.Flags != 0 {
				t.Fatalf("renewal message %+v %+v", s, m)
			}
			if _, ok := m.Options[optRequested]; ok {
				t.Fatal("RENEWING REQUEST carries a requested address")
			}
			if _, ok := m.Options[optServerID]; ok {
				t.Fatal("RENEWING REQUEST carries a server identifier")
			}
		}
	})
}

// TestDHCPRebind: the server does not answer unicast; the client asks
// again at half the time left to T2 (60 s at least), then broadcasts at
// T2 and a server answers.
func TestDHCPRebind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now(), answerBroadcast: true, leaseSecs: 7200}
		c := &Client{Conn: srv, MAC: testMAC}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got *Lease
		_, err := c.Keep(ctx, hourLease(), func(l *Lease) { got = l; cancel() })
		if !errors.Is(err, context.Canceled) || got == nil || got.Duration != 2*time.Hour || got.Start.Sub(srv.start) != 3150*time.Second {
			t.Fatalf("Keep: %v, lease %+v", err, got)
		}
		var at []time.Duration
		var unicast []bool
		for _, s := range srv.seen {
			at = append(at, s.at)
			unicast = append(unicast, s.unicast)
			if s.msg.CIAddr != leaseAddr.Addr() {
				t.Fatalf("no ciaddr: %+v", s.msg)
			}
		}
		// T1 = 1800; then +675, +337.5, +168.75, +84.375, +60 (the
		// floor), then T2 = 3150 (broadcast).
		want := []time.Duration{secs(1800), secs(2475), secs(2812.5), secs(2981.25), secs(3065.625), secs(3125.625), secs(3150)}
		if len(at) != len(want) {
			t.Fatalf("messages at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] || unicast[i] != (i < len(want)-1) {
				t.Fatalf("message %d at %v unicast %v; all at %v unicast %v", i, at[i], unicast[i], at, unicast)
			}
		}
	})
}

// TestDHCPExpire: no server answers at all: REBINDING broadcasts until
// the lease ends, then Keep returns ErrLeaseLost at exactly the expiry.
func TestDHCPExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now()}
		c := &Client{Conn: srv, MAC: testMAC}
		_, err := c.Keep(t.Context(), hourLease(), func(*Lease) { t.Error("renewed without a server") })
		if !errors.Is(err, ErrLeaseLost) || time.Since(srv.start) != time.Hour {
			t.Fatalf("Keep: %v after %v", err, time.Since(srv.start))
		}
		var bcast []time.Duration
		for _, s := range srv.seen {
			if !s.unicast {
				bcast = append(bcast, s.at)
			}
		}
		// T2 = 3150, then +225, +112.5, +60; 52.5 s later the lease ends.
		want := []time.Duration{secs(3150), secs(3375), secs(3487.5), secs(3547.5)}
		if len(bcast) != len(want) || bcast[0] != want[0] || bcast[1] != want[1] || bcast[2] != want[2] || bcast[3] != want[3] {
			t.Fatalf("broadcasts at %v, want %v", bcast, want)
		}
	})
}

// TestDHCPRenewNak: a NAK while renewing loses the lease at once.
func TestDHCPRenewNak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now(), answerUnicast: true, nak: true}
		_, err := (&Client{Conn: srv, MAC: testMAC}).Keep(t.Context(), hourLease(), nil)
		if !errors.Is(err, ErrLeaseLost) || time.Since(srv.start) != 30*time.Minute {
			t.Fatalf("Keep: %v after %v", err, time.Since(srv.start))
		}
	})
}

// TestDHCPRenewSendFails: a unicast that cannot be sent counts as
// unanswered; an ACK without a server identifier keeps the old one.
func TestDHCPRenewSendFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now(), unicastRefused: true, answerBroadcast: true,
			ackWithoutServer: true, leaseSecs: 3600}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var got *Lease
		_, err := (&Client{Conn: srv, MAC: testMAC}).Keep(ctx, hourLease(), func(l *Lease) { got = l; cancel() })
		if !errors.Is(err, context.Canceled) || got == nil || got.Server != leaseSrvID || time.Since(srv.start) != secs(3150) {
			t.Fatalf("Keep: %v lease %+v after %v", err, got, time.Since(srv.start))
		}
	})
}

// TestDHCPRelease: DHCPRELEASE carries ciaddr and the server identifier,
// unicast to the server; a Conn that cannot unicast broadcasts it.
func TestDHCPRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &leaseServer{toClient: make(chan []byte, 4), start: time.Now()}
		c := &Client{Conn: srv, MAC: testMAC}
		if err := c.Release(hourLease()); err != nil {
			t.Fatal(err)
		}
		if len(srv.seen) != 1 {
			t.Fatalf("seen %+v", srv.seen)
		}
		s := srv.seen[0]
		if s.typ != Release || !s.unicast || s.to != leaseSrvID || s.msg.CIAddr != leaseAddr.Addr() ||
			!bytes.Equal(s.msg.Options[optServerID], []byte{10, 0, 2, 2}) || !bytes.Equal(s.msg.CHAddr, testMAC) {
			t.Fatalf("release %+v %+v", s, s.msg)
		}
		// Broadcast only.
		b := &fakeServer{toClient: make(chan []byte, 1)}
		if err := (&Client{Conn: b, MAC: testMAC}).Release(hourLease()); err != nil {
			t.Fatal(err)
		}
		if string(b.seen) != string([]byte{Release}) {
			t.Fatalf("broadcast release: %v", b.seen)
		}
	})
}

// TestLeaseTimes: T1 and T2 from options 58 and 59, defaults of one half
// and seven eighths, and inconsistent values ignored.
func TestLeaseTimes(t *testing.T) {
	u32 := func(v uint32) []byte { b := make([]byte, 4); binary.BigEndian.PutUint32(b, v); return b }
	for _, tc := range []struct {
		opts             map[byte][]byte
		renew, rebind, d time.Duration
	}{
		{map[byte][]byte{optLeaseTime: u32(3600)}, secs(1800), secs(3150), secs(3600)},
		{map[byte][]byte{optLeaseTime: u32(3600), optRenewal: u32(600), optRebinding: u32(900)}, secs(600), secs(900), secs(3600)},
		{map[byte][]byte{optLeaseTime: u32(3600), optRenewal: u32(7200), optRebinding: u32(9000)}, secs(1800), secs(3150), secs(3600)},
		{map[byte][]byte{optLeaseTime: u32(3600), optRenewal: u32(3000), optRebinding: u32(1000)}, secs(3000), secs(3000), secs(3600)},
		{map[byte][]byte{optLeaseTime: u32(4)}, secs(10), secs(10), secs(10)},
	} {
		m := &Message{YIAddr: leaseAddr.Addr(), Options: tc.opts}
		l, err := leaseFromAck(m)
		if err != nil || l.Renew != tc.renew || l.Rebind != tc.rebind || l.Duration != tc.d {
			t.Errorf("%v: %+v %v", tc.opts, l, err)
		}
	}
}
