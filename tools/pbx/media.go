package pbx

import (
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/voip/codec"
)

// mediaMode is what a service's RTP stream does.
type mediaMode int32

const (
	modeSilent   mediaMode = iota // receive only
	modeEcho                      // send back every received payload
	modeTone                      // 1 kHz continuous
	modeAnnounce                  // 400+450 Hz early-media announcement
)

const (
	sampleRate     = 8000
	frameSamples   = 160 // 20 ms at 8 kHz
	framePeriod    = 20 * time.Millisecond
	toneLevel      = 0.3 // linear amplitude, about -10 dBFS
	announceLevel  = 0.2
	toneFreq       = 1000.0
	announceFreqA  = 400.0
	announceFreqB  = 450.0
	rtpHeaderBytes = 12
)

// mediaSession is the PBX side of a service call's RTP: symmetric (it
// sends to where packets come from, after the SDP address), one socket
// from Config.Net, one sender and one reader goroutine.
type mediaSession struct {
	conn    net.PacketConn
	codec   codec.Codec
	pt      uint8
	ssrc    uint32
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	mode    atomic.Int32
	sending atomic.Bool // false while the peer holds us

	mu     sync.Mutex // guards following
	remote netip.AddrPort
	seq    uint16
	ts     uint32
	phase  [2]float64

	received atomic.Uint64
	sent     atomic.Uint64
}

func newMediaSession(conn net.PacketConn, c codec.Codec, pt uint8, remote netip.AddrPort, mode mediaMode) *mediaSession {
	m := &mediaSession{conn: conn, codec: c, pt: pt, ssrc: rand.Uint32(), remote: remote,
		seq: uint16(rand.Uint32()), ts: rand.Uint32(), done: make(chan struct{})}
	m.mode.Store(int32(mode))
	m.sending.Store(true)
	m.wg.Add(2)
	go m.readLoop()
	go m.sendLoop()
	return m
}

func (m *mediaSession) setMode(mode mediaMode) { m.mode.Store(int32(mode)) }

// setSend allows or stops sending (hold, RFC 3264 §8.4).
func (m *mediaSession) setSend(on bool) { m.sending.Store(on) }

// setRemote changes the SDP address (re-INVITE/UPDATE).
func (m *mediaSession) setRemote(ap netip.AddrPort) {
	m.mu.Lock()
	m.remote = ap
	m.mu.Unlock()
}

// close stops both goroutines and closes the socket; idempotent.
func (m *mediaSession) close() {
	m.once.Do(func() {
		close(m.done)
		m.conn.Close()
	})
	m.wg.Wait()
}

// readLoop latches onto the source of RTP packets (symmetric RTP) and
// reflects them in echo mode. RTCP (RFC 5761 §4 payload types 64-95 after
// masking the marker bit) is ignored.
func (m *mediaSession) readLoop() {
	defer m.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, from, err := m.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if n < rtpHeaderBytes || buf[0]>>6 != 2 {
			continue
		}
		if pt := buf[1] & 0x7f; pt >= 64 && pt <= 95 {
			continue
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		m.received.Add(1)
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		m.mu.Lock()
		m.remote = src
		m.mu.Unlock()
		if mediaMode(m.mode.Load()) == modeEcho {
			m.send(p.PayloadType, p.Marker, p.Payload, uint32(len(p.Payload)))
		}
	}
}

// sendLoop sends a generated frame every 20 ms in tone and announce mode.
func (m *mediaSession) sendLoop() {
	defer m.wg.Done()
	t := time.NewTicker(framePeriod)
	defer t.Stop()
	pcm := make([]int16, frameSamples)
	var payload []byte
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		var freqs []float64
		var level float64
		switch mediaMode(m.mode.Load()) {
		case modeTone:
			freqs, level = []float64{toneFreq}, toneLevel
		case modeAnnounce:
			freqs, level = []float64{announceFreqA, announceFreqB}, announceLevel
		default:
			continue
		}
		m.mu.Lock()
		for i := range pcm {
			v := 0.0
			for k, f := range freqs {
				v += math.Sin(m.phase[k])
				m.phase[k] += 2 * math.Pi * f / sampleRate
				if m.phase[k] > 2*math.Pi {
					m.phase[k] -= 2 * math.Pi
				}
			}
			pcm[i] = int16(v / float64(len(freqs)) * level * 32767)
		}
		m.mu.Unlock()
		payload = m.codec.Encode(payload[:0], pcm)
		m.send(m.pt, false, payload, frameSamples)
	}
}

// send writes one RTP packet with our SSRC, sequence and timestamp, then
// advances the timestamp by samples.
func (m *mediaSession) send(pt uint8, marker bool, payload []byte, samples uint32) {
	if !m.sending.Load() {
		return
	}
	m.mu.Lock()
	remote := m.remote
	hdr := rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: m.seq,
		Timestamp: m.ts, SSRC: m.ssrc}
	m.seq++
	m.ts += samples
	m.mu.Unlock()
	if !remote.IsValid() || remote.Port() == 0 || remote.Addr().IsUnspecified() {
		return
	}
	pkt := rtp.Packet{Header: hdr, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		return
	}
	if _, err := m.conn.WriteTo(b, net.UDPAddrFromAddrPort(remote)); err == nil {
		m.sent.Add(1)
	}
}
