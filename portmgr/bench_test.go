package portmgr

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr/portmgrtest"
)

func benchManager(b *testing.B, pool int) (*Manager, *portmgrtest.World) {
	b.Helper()
	w := portmgrtest.NewWorld(b, false)
	site := w.AddSite(portmgrtest.PortRestrictedCone, 0)
	w.Start()
	m, err := New(Config{
		Net:                  site.Net,
		STUNServers:          []string{w.STUNServer().String()},
		EnableGateway:        false,
		DisableLifetimeProbe: true,
		PoolSize:             pool,
		MediaPorts:           Range{Min: 20000, Max: 29999},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	return m, w
}

// BenchmarkMapWarm times Map of a media pair from a full warm pool
// (external addresses already learnt by STUN through a vnet NAT); the
// refill and the Release are outside the timer. The warm metric is the
// share of Maps the pool served (1: all).
func BenchmarkMapWarm(b *testing.B) {
	m, _ := benchManager(b, 8)
	ctx := context.Background()
	h0, c0 := m.warmHits.Load(), m.cold.Load()
	full := func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.pool) < m.cfg.PoolSize {
			return false
		}
		for _, p := range m.pool {
			select {
			case <-p.learnt:
			default:
				return false
			}
		}
		return true
	}
	for b.Loop() {
		b.StopTimer()
		for !full() {
			<-m.poolSig
		}
		b.StartTimer()
		mp, err := m.Map(ctx, KindMedia, UDP, netip.AddrPort{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := m.Release(mp); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	h, c := m.warmHits.Load()-h0, m.cold.Load()-c0
	b.ReportMetric(float64(h)/float64(h+c), "warm")
}

// BenchmarkKeepaliveSIP runs the SIP flow's refreshes, a CRLF to the
// registrar and a STUN change check of the external address, both every
// ChangeCheck, and reports what one binding
// costs per hour at the default intervals: payload and wire bytes sent,
// and the STUN answers received (wire).
func BenchmarkKeepaliveSIP(b *testing.B) {
	m, _ := benchManager(b, -1)
	ctx := context.Background()
	mp, err := m.Map(ctx, KindSIP, UDP, netip.MustParseAddrPort("198.51.100.50:5060"))
	if err != nil {
		b.Fatal(err)
	}
	var pingB, pingP, checkB, checkP, rxB int64
	n := 0
	for b.Loop() {
		p0, by0 := m.KeepaliveStats()
		m.sipPing(mp)
		p1, by1 := m.KeepaliveStats()
		rx0 := m.stunRx.Load()
		m.sipCheck(ctx, mp)
		p2, by2 := m.KeepaliveStats()
		rxB += m.stunRx.Load() - rx0
		pingB, pingP = pingB+by1-by0, pingP+p1-p0
		checkB, checkP = checkB+by2-by1, checkP+p2-p1
		n++
	}
	per := func(v int64) float64 { return float64(v) / float64(n) }
	pings := float64(time.Hour) / float64(m.changeCheckInterval())
	checks := float64(time.Hour) / float64(m.changeCheckInterval())
	b.ReportMetric(per(pingB)*pings+per(checkB)*checks, "payloadB/h")
	b.ReportMetric((per(pingB)+28*per(pingP))*pings+(per(checkB)+28*per(checkP))*checks, "wireB/h")
	b.ReportMetric((per(rxB)+28*per(checkP))*checks, "rxWireB/h")
	b.ReportMetric(m.changeCheckInterval().Seconds(), "check_s")
}

// BenchmarkKeepaliveMedia runs an idle media pair's keepalive (STUN
// Binding indications to the far end's RTP and RTCP ports, RFC 6263
// §4.4) and reports the bytes per hour for the pair.
func BenchmarkKeepaliveMedia(b *testing.B) {
	m, _ := benchManager(b, -1)
	ctx := context.Background()
	mp, err := m.Map(ctx, KindMedia, UDP, netip.MustParseAddrPort("198.51.100.60:30000"))
	if err != nil {
		b.Fatal(err)
	}
	m.stopEarly(mp)
	_, gap := mediaCadence(m.keepaliveInterval())
	reportKAEvery(b, m, gap, func() { // fully idle: one send per gap
		mp.rtp.lastKA.Store(0) // due now
		mp.rtcp.lastKA.Store(0)
		m.mediaKeepalive(ctx, mp)
	})
}

func reportKAEvery(b *testing.B, m *Manager, every time.Duration, run func()) {
	p0, by0 := m.KeepaliveStats()
	n := 0
	for b.Loop() {
		run()
		n++
	}
	p, by := m.KeepaliveStats()
	perTick := float64(by-by0) / float64(n)
	pktsPerTick := float64(p-p0) / float64(n)
	ticks := float64(time.Hour) / float64(every)
	b.ReportMetric(perTick, "payloadB/tick")
	b.ReportMetric(perTick*ticks, "payloadB/h")
	b.ReportMetric((perTick+28*pktsPerTick)*ticks, "wireB/h")
}

// demuxMapping is a media mapping of a benchManager and an RTP-sized
// datagram from its far end.
func demuxMapping(b *testing.B) (*Mapping, []byte, netip.AddrPort) {
	m, _ := benchManager(b, -1)
	far := netip.MustParseAddrPort("198.51.100.60:30000")
	mp, err := m.Map(context.Background(), KindMedia, UDP, far)
	if err != nil {
		b.Fatal(err)
	}
	m.stopEarly(mp)
	pkt := make([]byte, 172) // PCMU 20 ms: 12 bytes of header, 160 of payload
	pkt[0] = 0x80
	return mp, pkt, far
}

// BenchmarkDemuxReceive is one RTP datagram through the demultiplexer to
// a receiver installed with Receive (voip/media's path): handled in the
// reader's goroutine, no copy, no channel. Allocations per packet: 0.
func BenchmarkDemuxReceive(b *testing.B) {
	mp, pkt, far := demuxMapping(b)
	var got int
	stop := mp.rtp.user.Receive(func(p []byte, _ netip.AddrPort) { got += len(p) }, nil)
	defer stop()
	b.ReportAllocs()
	for b.Loop() {
		mp.rtp.handleFrom(pkt, far, nil)
	}
	if got == 0 {
		b.Fatal("nothing delivered")
	}
}

// BenchmarkDemuxReadFrom is the same datagram through the queue that
// ReadFrom drains (sipgo's path, and every RTP packet's before Receive):
// a copy, a net.Addr and a channel send and receive per datagram. It
// uses handle, with the net.Addr the socket's ReadFrom returns, as the
// reader did before it read with ReadFromUDPAddrPort.
func BenchmarkDemuxReadFrom(b *testing.B) {
	mp, pkt, far := demuxMapping(b)
	from := net.UDPAddrFromAddrPort(far)
	buf := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		mp.rtp.handle(pkt, from)
		if _, _, err := mp.Conn.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
}
