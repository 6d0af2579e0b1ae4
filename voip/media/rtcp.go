package media

import (
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// RFC 3550 A.1 constants.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// rxStats is the per-source reception state of RFC 3550 A.1, A.3 and A.8.
type rxStats struct {
	init          bool
	ssrc          uint32
	maxSeq        uint16
	cycles        uint32
	baseSeq       uint32
	badSeq        uint32
	received      uint64
	expectedPrior uint64
	receivedPrior uint64
	lastFraction  uint8
	bytes         uint64

	transit     uint32
	haveTransit bool
	jitter      float64 // timestamp units

}

// lastSR is the far end's latest sender report (for LSR/DLSR).
type lastSR struct {
	ssrc uint32
	mid  uint32    // middle 32 bits of its NTP time
	at   time.Time // when it arrived
}

func (r *rxStats) reset(ssrc uint32, seq uint16) {
	*r = rxStats{init: true, ssrc: ssrc}
	r.initSeq(seq)
}

func (r *rxStats) initSeq(seq uint16) {
	r.baseSeq = uint32(seq)
	r.maxSeq = seq
	r.badSeq = seqMod + 1
	r.cycles = 0
	r.received, r.expectedPrior, r.receivedPrior = 0, 0, 0
}

// updateSeq is update_seq of RFC 3550 A.1 without the probation period
// (the latch already vets sources). It reports whether the packet counts.
func (r *rxStats) updateSeq(seq uint16) bool {
	udelta := seq - r.maxSeq
	switch {
	case udelta < maxDropout:
		if seq < r.maxSeq {
			r.cycles += seqMod // wrapped
		}
		r.maxSeq = seq
	case int(udelta) <= seqMod-maxMisorder:
		// A very large jump: accept it only if the next packet follows it
		// (the sender restarted).
		if uint32(seq) == r.badSeq {
			r.initSeq(seq)
		} else {
			r.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
	default:
		// duplicate or reordered: counted
	}
	r.received++
	return true
}

func (r *rxStats) extMax() uint32 { return r.cycles + uint32(r.maxSeq) }

// lost is the cumulative number lost (A.3): expected - received.
func (r *rxStats) lost() int64 {
	expected := int64(r.extMax()) - int64(r.baseSeq) + 1
	return expected - int64(r.received)
}

// fraction computes the fraction lost since the previous report (A.3)
// and moves the interval.
func (r *rxStats) fraction() uint8 {
	expected := uint64(int64(r.extMax()) - int64(r.baseSeq) + 1)
	expInt := int64(expected) - int64(r.expectedPrior)
	recInt := int64(r.received) - int64(r.receivedPrior)
	r.expectedPrior, r.receivedPrior = expected, r.received
	lostInt := expInt - recInt
	var f uint8
	if expInt > 0 && lostInt > 0 {
		f = uint8(min(255, (lostInt<<8)/expInt))
	}
	r.lastFraction = f
	return f
}

// updateJitter is A.8: arrival is the arrival time in timestamp units.
func (r *rxStats) updateJitter(ts uint32, arrival int) {
	transit := uint32(arrival) - ts
	if r.haveTransit {
		d := float64(int32(transit - r.transit))
		if d < 0 {
			d = -d
		}
		r.jitter += (d - r.jitter) / 16
	}
	r.transit, r.haveTransit = transit, true
}

// rtcpReport is what the far end said about our stream.
type rtcpReport struct {
	fraction uint8
	lost     int32
	jitter   uint32
}

// ntpTime converts t to the 64-bit NTP format (RFC 3550 §4).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // 1900 to 1970
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ntpMid is the middle 32 bits of the NTP time (the LSR/DLSR unit,
// 1/65536 s).
func ntpMid(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// buildReportLocked makes the compound packet of RFC 3550 §6.1: SR or RR
// (SR when we sent RTP since the last report, §6.4), SDES CNAME, and BYE
// when bye is set.
func (s *Session) buildReportLocked(now time.Time, bye bool) []rtcp.Packet {
	var reports []rtcp.ReceptionReport
	if s.rx.init && s.rx.received > 0 {
		lost := s.rx.lost()
		lost = min(max(lost, -(1<<23)), 1<<23-1) // 24-bit signed
		rr := rtcp.ReceptionReport{
			SSRC:               s.rx.ssrc,
			FractionLost:       s.rx.fraction(),
			TotalLost:          uint32(lost) & 0xFFFFFF,
			LastSequenceNumber: s.rx.extMax(),
			Jitter:             uint32(s.rx.jitter),
		}
		if s.sr.ssrc == s.rx.ssrc && !s.sr.at.IsZero() {
			rr.LastSenderReport = s.sr.mid
			rr.Delay = uint32(now.Sub(s.sr.at) * 65536 / time.Second)
		}
		reports = append(reports, rr)
	}
	var first rtcp.Packet
	if s.sentInIvl {
		// The RTP timestamp matching now, from the last packet sent.
		rtpNow := s.lastSentTS + uint32(s.samples(now.Sub(s.lastSentAt)))
		first = &rtcp.SenderReport{
			SSRC: s.ssrc, NTPTime: ntpTime(now), RTPTime: rtpNow,
			PacketCount: uint32(s.sent), OctetCount: uint32(s.sentBytes), Reports: reports,
		}
	} else {
		first = &rtcp.ReceiverReport{SSRC: s.ssrc, Reports: reports}
	}
	s.sentInIvl = false
	pkts := []rtcp.Packet{first, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: s.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: s.cname}},
	}}}}
	if bye {
		pkts = append(pkts, &rtcp.Goodbye{Sources: []uint32{s.ssrc}})
	}
	return pkts
}

// sendReport sends one compound RTCP packet (with BYE when bye is set).
func (s *Session) sendReport(bye bool) {
	now := time.Now()
	s.mu.Lock()
	if s.closed || !s.rtcpTo.IsValid() {
		s.mu.Unlock()
		return
	}
	pkts := s.buildReportLocked(now, bye)
	to, addr := s.rtcpTo, s.rtcpAddr
	s.mu.Unlock()
	b, err := rtcp.Marshal(pkts)
	if err == nil {
		b, err = s.sec.rtcp(b)
	}
	if err != nil {
		s.log.Debug("rtcp marshal failed", "err", err)
		return
	}
	c := s.conn
	if s.rtcpConn != nil {
		c = s.rtcpConn
	}
	if err := writeTo(c, b, to, addr); err != nil {
		s.log.Debug("rtcp send failed", "raddr", to, "err", err)
	}
}

// handleRTCP validates a compound packet (RFC 3550 A.2: it starts with SR
// or RR), latches the RTCP destination and takes in SR/RR/BYE.
func (s *Session) handleRTCP(b []byte, from netip.AddrPort, now time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil || len(pkts) == 0 {
		s.drop()
		return
	}
	var sender uint32
	switch p := pkts[0].(type) {
	case *rtcp.SenderReport:
		sender = p.SSRC
	case *rtcp.ReceiverReport:
		sender = p.SSRC
	default:
		s.drop()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.latchRTCPLocked(from, sender) {
		s.dropped++
		return
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			s.sr = lastSR{ssrc: p.SSRC, mid: uint32(p.NTPTime >> 16), at: now}
			s.takeReportsLocked(p.Reports, now)
		case *rtcp.ReceiverReport:
			s.takeReportsLocked(p.Reports, now)
		case *rtcp.Goodbye:
			for _, src := range p.Sources {
				if src == s.rx.ssrc && s.rx.init {
					s.remoteBye = true
				}
			}
		}
	}
}

// latchRTCPLocked decides whether RTCP from src is from the far end and
// where our RTCP goes. With rtcp-mux, RTCP is taken from the latched RTP
// source or the SDP address, and never moves the latch. Without mux, the
// RTCP latch goes to the SDP's RTCP address at once; else, to the first
// packet from the SDP's RTCP IP or the latched RTP source's IP, or from a
// sender whose SSRC is the RTP stream we play; a packet whose sender SSRC
// is that stream also moves it later. A stranger's report is dropped.
func (s *Session) latchRTCPLocked(src netip.AddrPort, sender uint32) bool {
	if s.rtcpConn == nil {
		if src == s.lt.cur || (usable(s.remote) && src == s.remote) {
			return true
		}
		s.lt.strangers++
		return false
	}
	ours := s.rx.init && sender == s.rx.ssrc
	switch {
	case src == s.rtcpLatch:
		return true
	case usable(s.remoteRTCP) && src == s.remoteRTCP,
		ours,
		!s.rtcpLatch.IsValid() && usable(s.remoteRTCP) && src.Addr() == s.remoteRTCP.Addr(),
		!s.rtcpLatch.IsValid() && s.lt.cur.IsValid() && src.Addr() == s.lt.cur.Addr():
		if s.rtcpLatch.IsValid() {
			s.log.Info("rtcp re-latched", "from", s.rtcpLatch, "to", src)
		}
		s.rtcpLatch = src
		s.updateTargetsLocked()
		return true
	}
	s.lt.strangers++
	return false
}

// takeReportsLocked reads the reception report about our SSRC: the far
// end's loss and jitter, and the round trip time (RFC 3550 §6.4.1:
// RTT = A - LSR - DLSR, in 1/65536 s).
func (s *Session) takeReportsLocked(rs []rtcp.ReceptionReport, now time.Time) {
	for _, r := range rs {
		if r.SSRC != s.ssrc {
			continue
		}
		lost := int32(r.TotalLost<<8) >> 8 // sign-extend 24 bits
		s.remoteRR = rtcpReport{fraction: r.FractionLost, lost: lost, jitter: r.Jitter}
		if r.LastSenderReport != 0 {
			rtt := ntpMid(now) - r.LastSenderReport - r.Delay
			if int32(rtt) >= 0 && rtt < 60*65536 {
				s.rtt = time.Duration(int64(rtt) * int64(time.Second) / 65536)
			}
		}
	}
}
