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

// oneCall maps a media pair on m, runs a session on each end for
// packets packets each way, and tears everything down as the phone does
// at hangup (sessions closed, mappings released).
func oneCall(tb testing.TB, m *portmgr.Manager, packets int) {
	tb.Helper()
	ctx := context.Background()
	ma, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		tb.Fatal(err)
	}
	mb, err := m.Map(ctx, portmgr.KindMedia, portmgr.UDP, netip.AddrPort{})
	if err != nil {
		tb.Fatal(err)
	}
	got := make(chan struct{}, 1)
	hook := func() {
		select {
		case got <- struct{}{}:
		default:
		}
	}
	sa, err := New(Config{Conn: ma.Conn, Remote: mb.Local(), Codec: codec.PCMU, KeepaliveInterval: -1, RTCPInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	sb, err := New(Config{Conn: mb.Conn, Remote: ma.Local(), Codec: codec.PCMU, KeepaliveInterval: -1, RTCPInterval: time.Hour, rxHook: hook})
	if err != nil {
		tb.Fatal(err)
	}
	in, out := make([]int16, 160), make([]int16, 160)
	for range packets {
		if err := sa.WriteFrame(in); err != nil {
			tb.Fatal(err)
		}
		select {
		case <-got:
		case <-time.After(5 * time.Second): // loopback: a lost datagram, not a slow one
			tb.Fatal("a datagram on loopback did not arrive")
		}
		sb.NextFrame(out)
	}
	sa.Close()
	sb.Close()
	if err := m.Release(ma); err != nil {
		tb.Fatal(err)
	}
	if err := m.Release(mb); err != nil {
		tb.Fatal(err)
	}
}

func loopbackManager(tb testing.TB) *portmgr.Manager {
	tb.Helper()
	n, err := stdnet.NewNet()
	if err != nil {
		tb.Skip(err)
	}
	m, err := portmgr.New(portmgr.Config{Net: n, BindAddr: netip.MustParseAddr("127.0.0.1"), DisableEarlyUDP: true,
		DisableLifetimeProbe: true, PoolSize: -1, MediaPorts: portmgr.Range{Min: 42000, Max: 42999}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	return m
}

// BenchmarkSequentialCalls runs calls one after the other (a media pair
// mapped, two sessions, 50 packets, all torn down) and reports the live
// heap after the last call against after the first, per call, and the
// goroutines left: both 0 when nothing grows from call to call.
func BenchmarkSequentialCalls(b *testing.B) {
	m := loopbackManager(b)
	oneCall(b, m, 50)
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0, g0 := heap(), runtime.NumGoroutine()
	calls := 0
	for b.Loop() {
		oneCall(b, m, 50)
		calls++
	}
	h1, g1 := heap(), runtime.NumGoroutine()
	b.ReportMetric((float64(h1)-float64(h0))/float64(calls), "heapB/call")
	b.ReportMetric(float64(g1-g0), "goroutines")
}
