package media

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/transport/v4/stdnet"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/codec"
)

// pullOnly hides a socket's Receive, so the session reads it with a
// goroutine of its own through ReadFrom: the path every RTP packet took
// before the port manager pushed datagrams.
type pullOnly struct{ net.PacketConn }

// loopbackPair maps two media pairs on 127.0.0.1 with a real port
// manager (no STUN, no NAT, no gateway).
func loopbackPair(tb testing.TB) (a, b *portmgr.Mapping) {
	tb.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		tb.Skip(err)
	}
	m, err := portmgr.New(portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"), DisableEarlyUDP: true,
		DisableLifetimeProbe: true, PoolSize: -1, MediaPorts: portmgr.Range{Min: 41000, Max: 41999}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if a, err = m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); err != nil {
		tb.Fatal(err)
	}
	if b, err = m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{}); err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// benchPath sends PCM frames from session A to session B over loopback
// UDP through the port manager and plays each at B: PCM in, encode, RTP
// out (one send system call), the socket's reader, the demultiplexer,
// B's RTP handling and jitter buffer, decode, PCM out. One op is one
// packet; allocs/op are the whole process's per packet.
func benchPath(b *testing.B, pull bool) {
	ma, mb := loopbackPair(b)
	var ca, cb net.PacketConn = ma.Conn, mb.Conn
	if pull {
		ca, cb = pullOnly{ca}, pullOnly{cb}
	}
	got := make(chan struct{}, 1)
	sa, err := New(Config{Conn: ca, Remote: mb.Local(), Codec: codec.PCMU, KeepaliveInterval: -1, RTCPInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer sa.Close()
	sb, err := New(Config{Conn: cb, Remote: ma.Local(), Codec: codec.PCMU, KeepaliveInterval: -1, RTCPInterval: time.Hour,
		MinDelay: time.Millisecond, MaxDelay: time.Millisecond,
		rxHook: func() {
			select {
			case got <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	in := make([]int16, 160)
	for i := range in {
		in[i] = int16(i * 97)
	}
	out := make([]int16, 160)
	// Warm up: the first packets latch and size the jitter buffer.
	for range 50 {
		if err := sa.WriteFrame(in); err != nil {
			b.Fatal(err)
		}
		<-got
		sb.NextFrame(out)
	}
	runtime.GC()
	b.ReportAllocs()
	for b.Loop() {
		if err := sa.WriteFrame(in); err != nil {
			b.Fatal(err)
		}
		<-got
		sb.NextFrame(out)
	}
	if sb.Stats().Received < 50 {
		b.Fatal("nothing received")
	}
}

// BenchmarkPacketPathPush is the per-packet path with the port manager
// pushing datagrams into the session (Receive).
func BenchmarkPacketPathPush(b *testing.B) { benchPath(b, false) }

// BenchmarkPacketPathPull is the same path with the session reading the
// socket through ReadFrom in a goroutine of its own.
func BenchmarkPacketPathPull(b *testing.B) { benchPath(b, true) }
