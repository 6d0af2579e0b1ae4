package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/voip/codec"
	"github.com/deskphone/phone/voip/media/jitter"
)

// Defaults for the zero values of Config.
const (
	DefaultPtime             = 20 * time.Millisecond
	DefaultRTCPInterval      = 5 * time.Second  // RFC 3550 §6.2 minimum
	DefaultKeepaliveInterval = 15 * time.Second // RFC 6263 §6 default Tr
)

// Payload type 13 is comfort noise (RFC 3551 §6, RFC 3389); it is used for
// keepalives and accepted from the far end, played only when negotiated
// (Config.CNPayloadType, cn.go).
const ptCN = 13

// cnSilence is an RFC 3389 §3 comfort-noise payload: one byte, the noise
// level in -dBov, 127 being the quietest.
var cnSilence = []byte{127}

// captureGap is the pause in WriteFrame calls after which the timestamp
// jumps by the time missed (and a new talkspurt begins).
const captureGap = 200 * time.Millisecond

// maxDatagram is the largest datagram read; larger ones are truncated and
// then fail to parse.
const maxDatagram = 1500

// Config configures a Session. Conn and Codec are required.
type Config struct {
	// Conn is the RTP socket (portmgr Mapping.Conn). The session reads and
	// writes it but never closes it: the port manager owns it.
	Conn net.PacketConn
	// RTCPConn is the RTCP socket; nil means RTCP is multiplexed on Conn
	// (RFC 5761). Not closed by the session either.
	RTCPConn net.PacketConn
	// Remote and RemoteRTCP are the far end's addresses from SDP.
	// RemoteRTCP zero means Remote's port + 1, or Remote itself with mux.
	// Remote may be zero (unknown, or 0.0.0.0 hold): nothing is sent until
	// a source latches (after its probation: see the package
	// documentation). Remote's own packets latch at once and always win.
	Remote, RemoteRTCP netip.AddrPort
	// Codec encodes and decodes audio.
	Codec codec.Codec
	// PayloadType is the negotiated payload type of Codec; 0 means the
	// codec's static type.
	PayloadType uint8
	// DTMFPayloadType is the negotiated telephone-event payload type
	// (RFC 4733); 0 means none.
	DTMFPayloadType uint8
	// Ptime is the packet time; default 20 ms.
	Ptime time.Duration
	// Direction is the initial direction; the zero value is SendRecv.
	Direction Direction
	// RTCPInterval is the mean RTCP report interval, randomised over
	// [0.5, 1.5] times it (RFC 3550 §6.2, §6.3.1); default 5 s.
	RTCPInterval time.Duration
	// KeepaliveInterval is how long the session may send no RTP before
	// it sends a keepalive (RFC 6263); default 15 s. Negative disables.
	KeepaliveInterval time.Duration
	// MinDelay and MaxDelay bound the jitter buffer's target delay;
	// defaults 20 ms and 200 ms.
	MinDelay, MaxDelay time.Duration
	// CNAME is the RTCP SDES CNAME (RFC 3550 §6.5.1); default random.
	CNAME string
	// Logger receives session events (never per packet); nil discards.
	Logger *slog.Logger
	// Protector, when set, secures every packet (SRTP; see Protector).
	Protector Protector
	// DeviceRate is the sample rate of the audio device that plays what
	// NextFrame gives (8000 or 16000 Hz); 0 means the codec's. Where it
	// differs from the codec's (a wideband call on a narrowband device,
	// or the reverse) NextFrame converts. Capture in Run converts by the
	// input's own Format.
	DeviceRate int
	// CNPayloadType is the negotiated comfort-noise payload type (RFC
	// 3389; 13 for CN/8000); 0 means none. Received CN then plays noise
	// at its level in the silence that follows (cn.go); without it, CN
	// packets (keepalives) are accepted but not played.
	CNPayloadType uint8
	// VAD turns on voice activity detection (vad.go): with CN negotiated,
	// silence is sent as a CN packet every 200 ms instead of voice
	// frames. Off by default: it stops the steady RTP that keeps NAT
	// bindings open and the far end's media-liveness checks happy.
	VAD bool

	// rxHook, when set (by tests), is called after each datagram is handled.
	rxHook func()
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	Sent          uint64        // RTP packets sent (audio, DTMF, keepalive)
	SentBytes     uint64        // RTP payload octets sent
	Keepalives    uint64        // keepalive packets among Sent
	Received      uint64        // RTP packets accepted from the far end
	ReceivedBytes uint64        // their payload octets
	Dropped       uint64        // datagrams dropped: malformed, unknown PT, wrong source
	Lost          int64         // cumulative packets lost (RFC 3550 A.3); negative with duplicates
	FractionLost  float64       // over the last RTCP interval, 0..1
	Jitter        time.Duration // interarrival jitter (RFC 3550 A.8)
	RTT           time.Duration // from the far end's reception reports (RFC 3550 §6.4.1); 0 unknown
	SSRC          uint32        // ours
	RemoteSSRC    uint32        // the far end's, 0 before any packet

	// The far end's view of our stream, from its last reception report.
	RemoteLost         int64
	RemoteFractionLost float64
	RemoteJitter       time.Duration

	Remote      netip.AddrPort // where RTP is sent now
	Latched     netip.AddrPort // the source latched onto (zero until a packet arrives)
	LatchedRTCP netip.AddrPort // the RTCP source latched onto (non-mux)
	Relatches   int            // times the latch moved to a new source
	RelatchFrom netip.AddrPort // the last move's old source (zero before any move)
	RelatchTo   netip.AddrPort // and its new one
	Strangers   uint64         // RTP and RTCP packets refused as not from the latched source (also in Dropped)
	FirstRx     time.Time      // first accepted RTP packet
	LastRx      time.Time      // last accepted RTP packet
	RemoteBye   bool           // the far end sent an RTCP BYE
	CNReceived  uint64         // comfort-noise packets played (RFC 3389)
	CNBad       uint64         // malformed comfort-noise packets (also in Dropped)
	CNSent      uint64         // comfort-noise packets sent for silence (VAD)

	Jitterbuf      jitter.Stats // the receive jitter buffer's counters
	FECRecovered   uint64       // lost frames recovered from in-band FEC (Opus)
	CodecConcealed uint64       // lost frames the codec concealed (Opus), before an FEC-recovered one
}

// Session is one RTP/RTCP audio stream; see the package documentation.
// Its methods are safe for concurrent use.
type Session struct {
	log      *slog.Logger
	conn     net.PacketConn
	rtcpConn net.PacketConn // nil with mux
	codec    codec.Codec
	pt       uint8
	dtmfPT   uint8
	rate     int // the RTP clock rate
	frame    int // RTP clock ticks per Ptime
	srate    int // the codec's audio sample rate (rate.go: ratio to rate)
	devRate  int // the playback device's sample rate (DeviceRate)
	ptime    time.Duration
	rtcpIvl  time.Duration
	keepIvl  time.Duration
	cname    string
	rxHook   func()
	sec      protection // SRTP, see protect.go
	jb       *jitter.Buffer
	rxd      *rxDecoder // the jitter buffer's decoder, with FEC (fec.go)
	dtmfCh   chan DTMFEvent
	start    time.Time

	ctx      context.Context
	cancel   context.CancelFunc
	readers  sync.WaitGroup // reader goroutines (sockets without Receive)
	stopRx   []func()       // removes the receivers of sockets with Receive
	timers   sync.WaitGroup // RTCP / keepalive goroutine
	once     sync.Once
	dtmfOnce sync.Once // closes dtmfCh
	closing  atomic.Bool
	onAudio  atomic.Pointer[func()] // OnNextAudio's hook, run once
	dtmfMu   sync.Mutex             // one SendDTMF at a time
	kick     chan struct{}          // wakes the timer loop when the keepalive is re-armed

	mu         sync.Mutex // guards everything below
	closed     bool
	dir        Direction
	muted      bool
	remote     netip.AddrPort // from SDP
	remoteRTCP netip.AddrPort // from SDP (or derived); zero with mux
	lt         latch          // the RTP source (symmetric RTP)
	rtcpLatch  netip.AddrPort
	sendTo     netip.AddrPort // current RTP target
	sendAddr   net.Addr       // sendTo as a net.Addr, cached
	rtcpTo     netip.AddrPort
	rtcpAddr   net.Addr

	// sending
	ssrc        uint32
	seq         uint16
	ts          uint32 // timestamp of the next audio frame
	marker      bool   // set the marker bit on the next audio packet
	dtmfActive  bool
	lastWrite   time.Time
	lastSend    time.Time
	sent        uint64
	sentBytes   uint64
	keepalives  uint64
	sentInIvl   bool // sent RTP since the last report (SR vs RR, RFC 3550 §6.4)
	lastSentTS  uint32
	lastSentAt  time.Time
	pkt         rtp.Packet
	out         [maxDatagram]byte
	payload     []byte
	silence     []int16
	dtmfPayload [DTMFPayloadLen]byte
	cnTx        cnSender // VAD and comfort noise sending (cn.go)
	cnPT        uint8    // negotiated comfort noise, 0 none

	rxAnchor tsAnchor // received timestamps to samples (rate.go)

	// playback at another rate (NextFrame's goroutine only)
	play    resampler
	playPCM []int16

	// receiving
	rx        rxStats
	sr        lastSR
	dropped   uint64
	dtmfRx    dtmfReceiver
	firstRx   time.Time
	lastRx    time.Time
	remoteBye bool
	rtt       time.Duration
	remoteRR  rtcpReport
	cnRx      uint64
	cnBad     uint64
}

// New starts a session: its reader goroutine(s) and its RTCP/keepalive
// timer. Close stops them.
func New(cfg Config) (*Session, error) {
	if cfg.Conn == nil {
		return nil, ErrNoConn
	}
	if cfg.Codec == nil {
		return nil, ErrNoCodec
	}
	pt := cfg.PayloadType
	if pt == 0 {
		pt = cfg.Codec.PayloadType()
	}
	if pt > 127 || cfg.DTMFPayloadType > 127 || (cfg.DTMFPayloadType != 0 && cfg.DTMFPayloadType == pt) {
		return nil, fmt.Errorf("%w: payload types %d/%d", ErrBadConfig, pt, cfg.DTMFPayloadType)
	}
	if cfg.CNPayloadType > 127 || cfg.CNPayloadType != 0 && (cfg.CNPayloadType == pt || cfg.CNPayloadType == cfg.DTMFPayloadType) {
		return nil, fmt.Errorf("%w: comfort-noise payload type %d", ErrBadConfig, cfg.CNPayloadType)
	}
	if cfg.Ptime == 0 {
		cfg.Ptime = DefaultPtime
	}
	rate, srate := cfg.Codec.ClockRate(), cfg.Codec.SampleRate()
	frame := int(int64(rate) * int64(cfg.Ptime) / int64(time.Second))
	if rate <= 0 || frame <= 0 || frame > maxDatagram-12 {
		return nil, fmt.Errorf("%w: ptime %v at %d Hz", ErrBadConfig, cfg.Ptime, rate)
	}
	if !rateRatioOK(srate, rate) {
		return nil, fmt.Errorf("%w: codec samples at %d Hz on a %d Hz clock", ErrBadConfig, srate, rate)
	}
	if cfg.DeviceRate == 0 {
		cfg.DeviceRate = srate
	}
	if cfg.DeviceRate != srate && (cfg.DeviceRate != 8000 && cfg.DeviceRate != 16000 || srate != 8000 && srate != 16000) {
		return nil, fmt.Errorf("%w: a %d Hz device for a %d Hz codec", ErrBadConfig, cfg.DeviceRate, srate)
	}
	if cfg.Direction < SendRecv || cfg.Direction > Inactive {
		return nil, fmt.Errorf("%w: direction %d", ErrBadConfig, cfg.Direction)
	}
	if cfg.RTCPInterval <= 0 {
		cfg.RTCPInterval = DefaultRTCPInterval
	}
	if cfg.KeepaliveInterval == 0 {
		cfg.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if cfg.CNAME == "" {
		cfg.CNAME = fmt.Sprintf("%016x@deskphone", rand.Uint64())
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rxd := newRxDecoder(cfg.Codec) // fec.go
	jb, err := jitter.New(jitter.Config{
		ClockRate: srate, MinDelay: cfg.MinDelay, MaxDelay: cfg.MaxDelay, Decode: rxd.decode,
	})
	if err != nil {
		return nil, err
	}
	s := &Session{
		log:      log.With("component", "media"),
		conn:     cfg.Conn,
		rtcpConn: cfg.RTCPConn,
		codec:    cfg.Codec,
		pt:       pt,
		dtmfPT:   cfg.DTMFPayloadType,
		cnPT:     cfg.CNPayloadType,
		rate:     rate,
		frame:    frame,
		srate:    srate,
		devRate:  cfg.DeviceRate,
		ptime:    cfg.Ptime,
		rtcpIvl:  cfg.RTCPInterval,
		keepIvl:  cfg.KeepaliveInterval,
		cname:    cfg.CNAME,
		rxHook:   cfg.rxHook,
		sec:      newProtection(cfg.Protector),
		jb:       jb,
		rxd:      rxd,
		dtmfCh:   make(chan DTMFEvent, 16),
		start:    time.Now(),
		dir:      cfg.Direction,
		ssrc:     rand.Uint32(),
		seq:      uint16(rand.Uint32()),
		ts:       rand.Uint32(),
		marker:   true,
		payload:  make([]byte, 0, maxDatagram),
		silence:  make([]int16, int(int64(frame)*int64(srate)/int64(rate))),
	}
	s.kick = make(chan struct{}, 1)
	s.cnTx = newCNSender(cfg.VAD && cfg.CNPayloadType != 0, srate, rate)
	s.setRemoteLocked(cfg.Remote, cfg.RemoteRTCP)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.startReader(s.conn, false)
	if s.rtcpConn != nil {
		s.startReader(s.rtcpConn, true)
	}
	s.timers.Add(1)
	go s.timerLoop()
	s.log.Debug("session started", "raddr", cfg.Remote, "ssrc", s.ssrc, "pt", pt, "dtmf_pt", s.dtmfPT, "mux", s.rtcpConn == nil)
	return s, nil
}

// receiver is implemented by the port manager's mapping sockets: the
// socket's own reader goroutine calls fn with each datagram for us (see
// portmgr's mconn.Receive), so a packet reaches the jitter buffer without
// a copy, a channel or a goroutine of ours in between.
type receiver interface {
	Receive(fn func(b []byte, from netip.AddrPort), closed func()) (stop func())
}

// startReader has the datagrams of c handled: pushed to us by a socket
// that can (receiver), else read by a goroutine of ours.
func (s *Session) startReader(c net.PacketConn, rtcpSock bool) {
	if r, ok := c.(receiver); ok {
		closed := func() {}
		if !rtcpSock {
			closed = s.closeDTMF
		}
		s.stopRx = append(s.stopRx, r.Receive(func(b []byte, from netip.AddrPort) {
			var pkt rtp.Packet
			s.handleDatagram(b, unmap(from), rtcpSock, &pkt)
			if s.rxHook != nil {
				s.rxHook()
			}
		}, closed))
		return
	}
	s.readers.Add(1)
	go s.readLoop(c, rtcpSock)
}

// closeDTMF closes the DTMF channel once: the session's RTP reader is
// gone.
func (s *Session) closeDTMF() { s.dtmfOnce.Do(func() { close(s.dtmfCh) }) }

// samples converts a duration to RTP clock ticks.
func (s *Session) samples(d time.Duration) int {
	return int(int64(d) * int64(s.rate) / int64(time.Second))
}

// SetRemote changes the far end's addresses (a re-INVITE). The latch is
// dropped: RTP goes to rtp until packets arrive from the far end again.
func (s *Session) SetRemote(rtpAddr, rtcpAddr netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRemoteLocked(rtpAddr, rtcpAddr)
	s.log.Info("remote changed", "raddr", rtpAddr, "rtcp", rtcpAddr)
}

func (s *Session) setRemoteLocked(rtpAddr, rtcpAddr netip.AddrPort) {
	rtpAddr = unmap(rtpAddr)
	rtcpAddr = unmap(rtcpAddr)
	if s.rtcpConn != nil && !rtcpAddr.IsValid() && rtpAddr.IsValid() {
		rtcpAddr = netip.AddrPortFrom(rtpAddr.Addr(), rtpAddr.Port()+1)
	}
	s.remote, s.remoteRTCP = rtpAddr, rtcpAddr
	s.lt.reset(rtpAddr)
	s.rtcpLatch = netip.AddrPort{}
	s.updateTargetsLocked()
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if !a.IsValid() {
		return a
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// usable reports whether a is somewhere packets can be sent.
func usable(a netip.AddrPort) bool {
	return a.IsValid() && !a.Addr().IsUnspecified() && a.Port() != 0
}

// updateTargetsLocked recomputes where RTP and RTCP go: the latched
// source if any, else the SDP address.
func (s *Session) updateTargetsLocked() {
	to := s.remote
	if s.lt.cur.IsValid() {
		to = s.lt.cur
	}
	if !usable(to) {
		to = netip.AddrPort{}
	}
	if to != s.sendTo {
		s.sendTo = to
		s.sendAddr = udpAddr(to)
		if to.IsValid() {
			// A new target: the keepalive clock, idle while there was
			// none, looks again.
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
	rto := to
	if s.rtcpConn != nil {
		rto = s.remoteRTCP
		if s.rtcpLatch.IsValid() {
			rto = s.rtcpLatch
		}
		if !usable(rto) {
			rto = netip.AddrPort{}
		}
	}
	if rto != s.rtcpTo {
		s.rtcpTo = rto
		s.rtcpAddr = udpAddr(rto)
	}
}

func udpAddr(a netip.AddrPort) net.Addr {
	if !a.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(a)
}

// SetDirection changes what may be sent and played. Resuming sending
// marks the next packet as the start of a talkspurt.
func (s *Session) SetDirection(d Direction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dir.CanSend() && d.CanSend() {
		s.marker = true
	}
	if s.dir != d {
		s.log.Info("direction", "from", s.dir, "to", d)
	}
	s.dir = d
}

// SetMute mutes the microphone: while muted, WriteFrame sends encoded
// silence instead of the captured audio, so timestamps keep moving and the
// NAT binding stays open. Unmuting marks a new talkspurt.
func (s *Session) SetMute(m bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.muted && !m {
		s.marker = true
	}
	s.muted = m
}

// WriteFrame encodes one frame of captured audio, at the codec's sample
// rate, and sends it as one RTP packet, if the direction allows sending.
// The RTP timestamp advances by the frame's length in clock ticks
// (len(pcm); half that for G.722, three times it for Opus) whether or
// not a packet is sent (RFC 3550 §5.1).
func (s *Session) WriteFrame(pcm []int16) error {
	ticks := s.ticksOf(len(pcm))
	if ticks == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	now := time.Now()
	if !s.lastWrite.IsZero() {
		// Keep the timestamp on the sampling clock across pauses in
		// capture (e.g. between two Run calls): frames not written still
		// count. Shorter gaps are device scheduling jitter, not a pause.
		if extra := s.samples(now.Sub(s.lastWrite)) - ticks; extra >= max(ticks, s.samples(captureGap)) {
			s.ts += uint32(extra / ticks * ticks)
			s.marker = true
		}
	}
	s.lastWrite = now
	ts := s.ts
	s.ts += uint32(ticks)
	if !s.dir.CanSend() || s.dtmfActive || !s.sendTo.IsValid() {
		return nil
	}
	src := pcm
	if s.muted {
		if len(s.silence) < len(pcm) {
			s.silence = make([]int16, len(pcm))
		}
		src = s.silence[:len(pcm)]
	}
	if s.cnTx.on {
		if send, err := s.silenceLocked(src, ts, now); !send {
			return err
		}
	}
	s.payload = s.codec.Encode(s.payload[:0], src)
	if len(s.payload) == 0 {
		return nil // a frame the codec cannot code (Opus: not 2.5..120 ms): nothing worth sending
	}
	err := s.sendRTPLocked(s.pt, s.marker, ts, s.payload, now)
	s.marker = false
	return err
}

// sendRTPLocked sends one RTP packet with the next sequence number.
func (s *Session) sendRTPLocked(pt uint8, marker bool, ts uint32, payload []byte, now time.Time) error {
	s.pkt.Header = rtp.Header{
		Version: 2, Marker: marker, PayloadType: pt,
		SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc,
	}
	s.pkt.Payload = payload
	n, err := s.pkt.MarshalTo(s.out[:])
	if err != nil {
		return fmt.Errorf("media: marshal rtp: %w", err)
	}
	s.seq++
	s.sent++
	s.sentBytes += uint64(len(payload))
	s.sentInIvl = true
	s.lastSend = now
	s.lastSentTS, s.lastSentAt = ts, now
	b, err := s.sec.rtp(s.out[:n])
	if err != nil {
		return fmt.Errorf("media: protect rtp: %w", err)
	}
	if err := writeTo(s.conn, b, s.sendTo, s.sendAddr); err != nil {
		return fmt.Errorf("media: send rtp to %s: %w", s.sendTo, err)
	}
	return nil
}

// addrPortWriter is implemented by *net.UDPConn; it sends without
// allocating a net.Addr.
type addrPortWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

func writeTo(c net.PacketConn, b []byte, to netip.AddrPort, addr net.Addr) error {
	if w, ok := c.(addrPortWriter); ok {
		_, err := w.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := c.WriteTo(b, addr)
	return err
}

type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

func readFrom(c net.PacketConn, b []byte) (int, netip.AddrPort, error) {
	if r, ok := c.(addrPortReader); ok {
		n, ap, err := r.ReadFromUDPAddrPort(b)
		return n, unmap(ap), err
	}
	n, a, err := c.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		ap, _ = netip.ParseAddrPort(a.String())
	}
	return n, unmap(ap), nil
}

// NextFrame fills dst with received audio from the jitter buffer, with
// loss concealment or silence where nothing is due, at the device's rate
// (Config.DeviceRate). It implements hal.FrameSource and is called at the
// audio device's pace, from one goroutine at a time.
func (s *Session) NextFrame(dst []int16) {
	srate := s.srate
	switch {
	case s.devRate == srate:
		s.jb.NextFrame(dst)
	case s.devRate < srate: // a wideband call on a narrowband device
		buf := s.playBuf(2 * len(dst))
		s.jb.NextFrame(buf)
		s.play.down(dst, buf)
	default: // a narrowband call on a wideband device
		buf := s.playBuf(len(dst) / 2)
		s.jb.NextFrame(buf)
		s.play.up(dst[:2*len(buf)], buf)
	}
}

// playBuf returns NextFrame's scratch frame of n samples.
func (s *Session) playBuf(n int) []int16 {
	if cap(s.playPCM) < n {
		s.playPCM = make([]int16, n)
	}
	return s.playPCM[:n]
}

// Run captures from in and sends each frame until ctx is done (it then
// returns ctx.Err()) or the session is closed (it returns nil). The
// device's clock paces the loop. Send errors (e.g. an unreachable network)
// do not stop it.
func (s *Session) Run(ctx context.Context, in hal.AudioIn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	n := in.Format().FrameSamples()
	if n <= 0 {
		n = s.samplesOf(s.frame)
	}
	buf := make([]int16, n)
	// A device at another rate than the codec's: each frame converted
	// (the codec's frame is in conv).
	var conv []int16
	var rs resampler
	srate, devRate := s.srate, in.Format().SampleRate
	switch {
	case devRate == 0 || devRate == srate:
	case 2*devRate == srate:
		conv = make([]int16, 2*n)
	case devRate == 2*srate:
		conv = make([]int16, n/2)
	default:
		return fmt.Errorf("%w: a %d Hz microphone for a %d Hz codec", ErrBadConfig, devRate, srate)
	}
	write := func(buf []int16) error {
		switch {
		case conv == nil:
			return s.WriteFrame(buf)
		case len(conv) > len(buf):
			rs.up(conv, buf)
		default:
			rs.down(conv, buf)
		}
		return s.WriteFrame(conv)
	}
	logged := false
	if s.firstWrite() {
		// The stream starts at once, not a frame time later when the
		// device has captured its first frame: a frame of silence now
		// (it also opens the far end's NAT binding and latch), the
		// device's frames from the next frame time on, on the same
		// timestamp grid.
		if err := write(buf); errors.Is(err, ErrClosed) {
			return nil
		}
	}
	for {
		if err := in.ReadFrame(ctx, buf); err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("media: capture: %w", err)
		}
		if err := write(buf); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			if !logged && !errors.Is(err, ErrNotKeyed) {
				s.log.Warn("send failed", "err", err)
				logged = true
			}
		}
	}
}

// firstWrite reports whether no audio frame was written yet.
func (s *Session) firstWrite() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastWrite.IsZero()
}

// DTMF returns the channel of received digits, one event per digit when
// it ends. It is closed when the session's reader stops (after Close, or
// when the socket is closed). Events are dropped if nobody reads.
func (s *Session) DTMF() <-chan DTMFEvent { return s.dtmfCh }

// SendDTMF sends digit as an RFC 4733 event lasting d (at least one
// ptime, at most 0xFFFF timestamp units): the first packet with the marker
// bit, an update every ptime with the same timestamp and a growing
// duration, and the end packet three times (§2.5.1.2, §2.5.1.4). Audio
// frames written meanwhile are not sent. It blocks until the last packet
// is sent; a cancelled ctx ends the event early (end packets are still
// sent) and returns ctx.Err().
func (s *Session) SendDTMF(ctx context.Context, digit rune, d time.Duration) error {
	ev, ok := DigitEvent(digit)
	if !ok {
		return fmt.Errorf("%w: %q", ErrBadDigit, digit)
	}
	if s.dtmfPT == 0 {
		return ErrNoDTMF
	}
	s.dtmfMu.Lock()
	defer s.dtmfMu.Unlock()
	total := min(max(s.samples(d), s.frame), 0xFFFF)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !s.dir.CanSend() {
		s.mu.Unlock()
		return ErrNotSending
	}
	start := s.ts
	s.dtmfActive = true
	dur := min(s.frame, total)
	err := s.sendDTMFLocked(ev, start, dur, dur == total, true)
	s.mu.Unlock()

	finish := func() {
		s.mu.Lock()
		s.dtmfActive = false
		s.marker = true
		if end := start + uint32(total); int32(end-s.ts) > 0 {
			s.ts = end
		}
		s.mu.Unlock()
	}
	defer finish()

	ends := 0 // end packets sent
	if dur == total {
		ends = 1
	}
	tick := time.NewTicker(s.ptime)
	defer tick.Stop()
	var ctxErr error
	for dur < total {
		select {
		case <-ctx.Done():
			ctxErr = ctx.Err()
			total = dur // end now, reporting what was sent
		case <-s.ctx.Done():
			return ErrClosed
		case <-tick.C:
			dur = min(dur+s.frame, total)
			if e := s.sendDTMF(ev, start, dur, dur == total, false); e != nil && err == nil {
				err = e
			}
			if dur == total {
				ends = 1
			}
		}
	}
	// The end packet goes out three times in all, at the update interval
	// (§2.5.1.4); after a cancel, without waiting.
	for ; ends < 3; ends++ {
		if ctxErr == nil {
			select {
			case <-s.ctx.Done():
				return ErrClosed
			case <-tick.C:
			}
		}
		if e := s.sendDTMF(ev, start, total, true, false); e != nil && err == nil {
			err = e
		}
	}
	if ctxErr != nil {
		return ctxErr
	}
	return err
}

func (s *Session) sendDTMF(ev uint8, ts uint32, dur int, end, marker bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.sendDTMFLocked(ev, ts, dur, end, marker)
}

func (s *Session) sendDTMFLocked(ev uint8, ts uint32, dur int, end, marker bool) error {
	if !s.sendTo.IsValid() {
		return nil
	}
	p := DTMFPayload{Event: ev, End: end, Volume: 10, Duration: uint16(dur)}
	b := p.AppendTo(s.dtmfPayload[:0])
	return s.sendRTPLocked(s.dtmfPT, marker, ts, b, time.Now())
}

// readLoop reads datagrams until the socket is closed or Close wakes it.
func (s *Session) readLoop(c net.PacketConn, rtcpSock bool) {
	defer s.readers.Done()
	if !rtcpSock {
		defer s.closeDTMF()
	}
	buf := make([]byte, maxDatagram)
	var pkt rtp.Packet
	for {
		n, from, err := readFrom(c, buf)
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
				continue
			}
			// ICMP errors surface on some platforms as read errors: go on.
			continue
		}
		s.handleDatagram(buf[:n], from, rtcpSock, &pkt)
		if s.rxHook != nil {
			s.rxHook()
		}
	}
}

// isRTCP applies the RFC 5761 §4 demultiplexing rule: RTCP packet types
// 192-223 show up as marker + payload type 64-95 in an RTP header.
func isRTCP(b []byte) bool {
	pt := b[1] & 0x7F
	return pt >= 64 && pt <= 95
}

// handleDatagram dispatches one datagram; bad input is dropped.
func (s *Session) handleDatagram(b []byte, from netip.AddrPort, rtcpSock bool, pkt *rtp.Packet) {
	if len(b) < 2 || b[0]>>6 != 2 {
		s.drop()
		return
	}
	now := time.Now()
	rtcp := rtcpSock || (s.rtcpConn == nil && isRTCP(b))
	b, ok := s.sec.open(b, rtcp)
	if !ok {
		s.drop()
		return
	}
	if rtcp {
		s.handleRTCP(b, from, now)
		return
	}
	s.handleRTP(b, from, now, pkt)
}

func (s *Session) drop() {
	s.mu.Lock()
	s.dropped++
	s.mu.Unlock()
}

// handleRTP validates, latches, counts, and plays or decodes DTMF.
func (s *Session) handleRTP(b []byte, from netip.AddrPort, now time.Time, pkt *rtp.Packet) {
	if err := pkt.Unmarshal(b); err != nil {
		s.drop()
		return
	}
	pt := pkt.PayloadType
	audio := pt == s.pt
	dtmf := s.dtmfPT != 0 && pt == s.dtmfPT
	cn := s.cnPT != 0 && pt == s.cnPT
	if !audio && !dtmf && !cn && pt != ptCN {
		s.drop()
		return
	}
	if cn {
		if _, err := ParseCN(pkt.Payload); err != nil {
			s.mu.Lock()
			s.dropped++
			s.cnBad++
			s.mu.Unlock()
			return
		}
	}
	var evs [2]DTMFEvent
	nev := 0
	emit := func(e DTMFEvent) {
		if nev < len(evs) {
			evs[nev] = e
			nev++
		}
	}

	s.mu.Lock()
	if !s.latchLocked(from, pkt.SSRC, pkt.SequenceNumber, now) {
		s.dropped++
		s.mu.Unlock()
		return
	}
	newStream := !s.rx.init || s.rx.ssrc != pkt.SSRC
	if newStream {
		s.rx.reset(pkt.SSRC, pkt.SequenceNumber)
		s.dtmfRx = dtmfReceiver{}
	}
	if !s.rx.updateSeq(pkt.SequenceNumber) {
		s.dropped++
		s.mu.Unlock()
		return
	}
	s.rx.bytes += uint64(len(pkt.Payload))
	if audio {
		s.rx.updateJitter(pkt.Timestamp, s.samples(now.Sub(s.start)))
	}
	if s.firstRx.IsZero() {
		s.firstRx = now
	}
	s.lastRx = now
	play := audio && s.dir.CanReceive() && len(pkt.Payload) > 0
	noise := cn && s.dir.CanReceive()
	var sampleTS, noiseTS uint32
	if noise {
		s.cnRx++
		noiseTS = s.rxSampleLocked(pkt.Timestamp, newStream) // rate.go
	}
	if play {
		sampleTS = s.rxSampleLocked(pkt.Timestamp, newStream) // rate.go
	}
	if audio {
		s.dtmfRx.audio(pkt.Timestamp, s.rate, now, emit)
	}
	if dtmf {
		if p, err := ParseDTMFPayload(pkt.Payload); err == nil {
			s.dtmfRx.packet(p, pkt.Timestamp, s.rate, now, emit)
		}
	}
	s.mu.Unlock()

	if newStream {
		s.jb.Reset()
	}
	if noise {
		s.handleCN(pkt.Payload, noiseTS)
	}
	if play {
		// The jitter buffer counts in samples: G.722's clock ticks
		// twice as slowly as its samples, Opus's three times as fast.
		s.pushAudio(pkt.SequenceNumber, sampleTS, pkt.Marker, pkt.Payload, newStream, now) // fec.go
	} else {
		s.sawPacket(pkt.SequenceNumber)
	}
	if play {
		if f := s.onAudio.Load(); f != nil && s.onAudio.CompareAndSwap(f, nil) {
			(*f)()
		}
	}
	for _, e := range evs[:nev] {
		select {
		case s.dtmfCh <- e:
		default:
			s.log.Warn("dtmf event dropped: channel full", "digit", string(e.Digit))
		}
	}
}

// latchLocked implements symmetric RTP (see the package documentation):
// it reports whether a valid packet from src is from the stream we play,
// moving the latch, and where RTP goes, when src has proved itself.
func (s *Session) latchLocked(src netip.AddrPort, ssrc uint32, seq uint16, now time.Time) bool {
	was, moves := s.lt.cur, s.lt.moves
	if !s.lt.offer(src, ssrc, seq, now) {
		return false
	}
	switch {
	case s.lt.moves != moves:
		s.log.Info("re-latched", "from", was, "to", src, "ssrc", ssrc)
	case !was.IsValid() && src != s.remote:
		s.log.Info("latched onto a source other than SDP's", "raddr", s.remote, "latched", src)
	}
	if s.lt.cur != was {
		s.updateTargetsLocked()
	}
	return true
}

// timerLoop sends RTCP reports at randomised intervals and RTP keepalives
// when nothing else was sent for a while. It wakes only when one of them
// is due: the keepalive timer is set to the moment the keepalive interval
// since the last RTP sent ends (never while audio flows), and is off
// while there is nowhere to send (a new target kicks it).
func (s *Session) timerLoop() {
	defer s.timers.Done()
	rtcpT := time.NewTimer(s.rtcpDelay())
	defer rtcpT.Stop()
	var keepC <-chan time.Time
	var keepT *time.Timer
	// The first look soon after the start (or a new target), so that a
	// session that sends nothing (on hold, recvonly) opens its NAT
	// binding early.
	firstLook := min(s.keepIvl/4, time.Second)
	if s.keepIvl > 0 {
		keepT = time.NewTimer(firstLook)
		defer keepT.Stop()
		keepC = keepT.C
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-rtcpT.C:
			s.sendReport(false)
			rtcpT.Reset(s.rtcpDelay())
		case now := <-keepC:
			if d := s.keepalive(now); d > 0 {
				keepT.Reset(d)
			}
		case <-s.kick:
			if keepT != nil {
				keepT.Reset(firstLook)
			}
		}
	}
}

// rtcpDelay is the report interval randomised over [0.5, 1.5] times the
// mean (RFC 3550 §6.3.1).
func (s *Session) rtcpDelay() time.Duration {
	return s.rtcpIvl/2 + rand.N(s.rtcpIvl)
}

// keepalive sends an RTP comfort-noise packet if no RTP was sent for the
// keepalive interval (RFC 6263 §4.2 / §4.6, see the package documentation).
// It returns how long until the next keepalive may be due, or 0 when there
// is nowhere to send.
func (s *Session) keepalive(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.sendTo.IsValid() {
		return 0
	}
	if since := now.Sub(s.lastSend); since < s.keepIvl {
		return s.keepIvl - since
	}
	if err := s.sendRTPLocked(ptCN, false, s.ts, cnSilence, now); err != nil {
		s.log.Debug("keepalive failed", "err", err)
	}
	s.keepalives++
	return s.keepIvl
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	st := Stats{
		Sent: s.sent, SentBytes: s.sentBytes, Keepalives: s.keepalives,
		Received: s.rx.received, ReceivedBytes: s.rx.bytes, Dropped: s.dropped,
		SSRC: s.ssrc, RemoteSSRC: s.rx.ssrc,
		Remote: s.sendTo, Latched: s.lt.cur, LatchedRTCP: s.rtcpLatch,
		Relatches: s.lt.moves, RelatchFrom: s.lt.from, RelatchTo: s.lt.to, Strangers: s.lt.strangers,
		FirstRx: s.firstRx, LastRx: s.lastRx, RemoteBye: s.remoteBye, RTT: s.rtt,
		CNReceived: s.cnRx, CNBad: s.cnBad, CNSent: s.cnTx.sent,
		RemoteLost:         int64(s.remoteRR.lost),
		RemoteFractionLost: float64(s.remoteRR.fraction) / 256,
		RemoteJitter:       time.Duration(int64(s.remoteRR.jitter) * int64(time.Second) / int64(s.rate)),
	}
	if s.rx.init {
		st.Lost = s.rx.lost()
		st.FractionLost = float64(s.rx.lastFraction) / 256
		st.Jitter = time.Duration(s.rx.jitter * float64(time.Second) / float64(s.rate))
	}
	s.mu.Unlock()
	st.Jitterbuf = s.jb.Stats()
	st.FECRecovered, st.CodecConcealed = s.lossStats() // fec.go
	return st
}

// OnNextAudio arms f to run once, when the next audio packet to be
// played has been accepted: not for a malformed, foreign or duplicate
// packet, nor for audio the direction does not let us receive, nor for
// comfort noise (what a phone that holds us sends as keepalives, one
// in 15 s: phoned does). It replaces f armed before; nil disarms; Close disarms. f
// runs on the receive path and must not block. The phone plays nothing
// while the far end holds the call and arms this, so that the speaker's
// clock stops until music on hold arrives (firmware/phone).
func (s *Session) OnNextAudio(f func()) {
	if f == nil {
		s.onAudio.Store(nil)
		return
	}
	s.onAudio.Store(&f)
}

// Close sends an RTCP BYE (RFC 3550 §6.6), stops every goroutine the
// session started and waits for them. It does not close the sockets, which
// belong to the port manager: the readers are woken with a read deadline
// in the past, and the deadline is cleared again before Close returns. If
// a socket does not support deadlines, its reader ends when the socket is
// closed. Close is idempotent and always returns nil.
func (s *Session) Close() error {
	s.onAudio.Store(nil)
	s.once.Do(func() {
		s.sendReport(true)
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closing.Store(true)
		s.cancel()
		s.timers.Wait()
		for _, stop := range s.stopRx {
			stop() // waits for a datagram being handled
		}
		// Readers of our own, for sockets that cannot push.
		var pull []net.PacketConn
		for _, c := range []net.PacketConn{s.conn, s.rtcpConn} {
			if _, ok := c.(receiver); c != nil && !ok {
				pull = append(pull, c)
			}
		}
		if _, ok := s.conn.(receiver); ok {
			s.closeDTMF()
		}
		past := time.Now().Add(-time.Second)
		wait := true
		for _, c := range pull {
			if c.SetReadDeadline(past) != nil {
				wait = false
			}
		}
		if wait {
			s.readers.Wait()
			for _, c := range pull {
				_ = c.SetReadDeadline(time.Time{})
			}
		}
		s.log.Debug("session closed")
	})
	return nil
}

// Both the session and its jitter buffer are audio sources for hal.AudioOut.
var (
	_ hal.FrameSource = (*Session)(nil)
	_ hal.FrameSource = (*jitter.Buffer)(nil)
)
