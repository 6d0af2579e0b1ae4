package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/media"
)

// Media liveness: a call whose far end's media never arrives on the
// direct path moves to our TURN relay.
//
// Our NAT's type decides at mapping time whether media is relayed (only
// when it maps per destination). That misses the pairs where the far end
// is the problem: a far end behind a symmetric NAT that advertises its
// STUN address and does not latch (its STUN port is valid only towards
// its STUN server, so our RTP dies in its NAT, and its RTP comes from a
// fresh port our port-restricted NAT filters), or a far end behind a SIP
// ALG. So once the call is answered, if nothing from the far end's media
// (RTP accepted by the session, or RTCP it latched onto) has arrived
// within MediaTimeout while we are sending (and neither side holds), and the Mapper can relay, the call's media mapping moves
// onto the relay (an allocation through the mapping's own sockets, with
// permissions for the far end's SDP IP and the IP its Contact shows), and
// a re-INVITE offers the relayed address. The far end then sends to the
// relay from whatever port its NAT picks; the relay hands that to us with
// the far end's IP, the media session latches onto it (same IP as the
// SDP, RFC 4961 latching) and our RTP goes back through the relay to the
// port the far end's NAT opened towards it. Calls that get media directly
// never relay. The switch is reported as a MediaPathEvent and by
// Call.MediaPath.

// DefaultMediaTimeout is how long after the answer the far end's media
// may take before the call moves to the relay: long enough for a far end
// that starts its RTP with the 200 OK or ACK and for the session's latch
// probation (200 ms), short enough that the relayed audio starts within
// about 1.5 s of the answer.
const DefaultMediaTimeout = time.Second

// livenessTick is how often the liveness watcher looks at the call.
const livenessTick = 100 * time.Millisecond

// Media paths reported by Call.MediaPath and MediaPathEvent.
const (
	MediaPathDirect = "direct"
	MediaPathRelay  = "relay"
)

// Relayer is a Mapper that can move a media mapping in use onto a TURN
// relay (portmgr.Manager). Relay returns portmgr.ErrNoRelay when no relay
// is configured.
type Relayer interface {
	Relay(ctx context.Context, mp *portmgr.Mapping, peers ...netip.Addr) error
}

// MediaPathEvent reports that a call's media moved to another path.
type MediaPathEvent struct {
	Call *Call
	// Path is MediaPathDirect or MediaPathRelay.
	Path string
	// Reason says why (for the relay: the liveness rule that fired).
	Reason string
}

func (*MediaPathEvent) event() {}

// relayState is the call's media path. Guarded by Call.mu.
type relayState struct {
	relayed     bool
	relayReason string
	lanOffered  bool // offerLANOnce re-INVITEd with our LAN address
}

// MediaPath returns the call's media path (MediaPathDirect or
// MediaPathRelay) and, for the relay, why it was chosen.
func (c *Call) MediaPath() (path, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.relayed {
		return MediaPathRelay, c.relayReason
	}
	return MediaPathDirect, ""
}

func (u *UA) mediaTimeout() time.Duration {
	if u.cfg.MediaTimeout == 0 {
		return DefaultMediaTimeout
	}
	return u.cfg.MediaTimeout
}

// earlyDeadGrace is how long after the answer the far end's media may
// take when its early media (183 with SDP) already stayed silent for
// MediaTimeout while we sent: far ends start their RTP with the 200 OK,
// so a short wait after the answer suffices before the relay, and the
// relayed audio starts well within 1.5 s of the answer.
const earlyDeadGrace = 300 * time.Millisecond

// StandbyDropper is a Mapper that keeps warm standby relay allocations
// on media mappings (portmgr.Manager): the liveness watcher gives a
// call's back once its direct path is proven.
type StandbyDropper interface {
	DropStandby(mp *portmgr.Mapping)
}

// watchLiveness applies the liveness rule to the media session s of the
// call: it looks every livenessTick until the call has been answered for
// MediaTimeout, then either finds the far end's media (done) or moves the
// call to the relay. During early media on an outgoing call (183 with
// SDP) the rule runs too: early media that stays silent for
// MediaTimeout while we send gives the verdict ahead, and the call moves
// to the relay earlyDeadGrace after the answer unless media arrives by
// then; early media that flows settles nothing (it may come from a PBX's
// announcement, not the answering phone): after it, RTP since the answer
// proves the direct path. A proven direct path gives the warm standby
// allocation back (StandbyDropper). It ends with the call or when s is
// replaced.
func (c *Call) watchLiveness(s *media.Session) {
	timeout := c.ua.mediaTimeout()
	r, ok := c.ua.cfg.Mapper.(Relayer)
	if timeout < 0 || !ok {
		return
	}
	tk := time.NewTicker(livenessTick)
	defer tk.Stop()
	var earlySince, restart time.Time
	earlyDead := false
	for {
		select {
		case <-c.done:
			return
		case <-tk.C:
		}
		c.mu.Lock()
		state, answered, cur, held, mp := c.state, c.answered, c.media, c.localHold || c.remoteHold, c.mapping
		c.mu.Unlock()
		if cur != s || state == StateEnded {
			return
		}
		st := s.Stats()
		if state == StateEarly && c.dir == Outgoing && !held {
			if earlySince.IsZero() {
				earlySince = time.Now()
			}
			if st.Received > 0 || st.LatchedRTCP.IsValid() {
				continue // early media flows; the verdict comes after the answer
			}
			if !earlyDead && st.Sent > 0 && time.Since(earlySince) >= timeout {
				earlyDead = true
				c.log.Info("media liveness: early media silent; relay at the answer unless media arrives", "after", timeout)
			}
			continue
		}
		if directProven(st, !earlySince.IsZero(), answered) || c.dtlsHeard() {
			// The far end's RTP or RTCP arrives: the direct path works.
			if d, ok := c.ua.cfg.Mapper.(StandbyDropper); ok && mp != nil && !c.iceKeepsStandby() { // call_ice.go
				d.DropStandby(mp)
			}
			return
		}
		wait := timeout
		if earlyDead {
			wait = min(timeout, earlyDeadGrace)
		}
		wait += c.dtlsGrace() // call_dtls.go
		if state != StateTalking || held || answered.IsZero() || time.Since(answered) < wait || time.Since(restart) < timeout {
			continue
		}
		if st.Sent == 0 {
			continue // we do not send (yet): no verdict
		}
		if c.iceChecking() { // call_ice.go
			continue // ICE finds the path, or gives up first
		}
		if c.offerLANOnce() {
			restart = time.Now() // the verdict waits for media on the LAN path
			continue             // the relay if that fails too
		}
		reason := fmt.Sprintf("no media from the far end %v after the answer", timeout)
		if earlyDead {
			reason = fmt.Sprintf("no early media from the far end in %v, none %v after the answer", timeout, wait)
		}
		c.switchToRelay(r, reason)
		return
	}
}

// offerLANOnce: when the far end is behind our own NAT with a private
// address (mediahint.go) and our description still carries the NAT's
// public address (we made the offer before we knew), a re-INVITE offers
// our LAN address instead of the relay: its media then comes over the
// LAN even when the NAT does not hairpin and it does not latch. It
// reports whether it sent one; it does so once per call, and the
// liveness timer runs again from the re-INVITE's answer.
func (c *Call) offerLANOnce() bool {
	c.mu.Lock()
	if c.lanOffered || c.mapping == nil || c.localSDP == nil {
		c.mu.Unlock()
		return false
	}
	a := c.mapping.Addrs()
	same := c.sameNATLocked(a) && offerAddr(c.localSDP) != a.Local.Addr()
	if same {
		c.lanOffered = true
	}
	c.mu.Unlock()
	if !same {
		return false
	}
	c.log.Info("media liveness: far end behind our NAT; re-INVITE with our LAN address", "lan", a.Local)
	if err := c.Refresh(); err != nil {
		c.log.Warn("media liveness: re-INVITE with our LAN address", "err", err)
		return false
	}
	return true
}

// directProven says whether the far end's media arrives on the direct
// path: any RTP or RTCP from it, or, after early media (which may come
// from another source than the answering phone), RTP since the answer.
func directProven(st media.Stats, hadEarly bool, answered time.Time) bool {
	if !hadEarly {
		return st.Received > 0 || st.LatchedRTCP.IsValid()
	}
	return !answered.IsZero() && st.LastRx.After(answered)
}

// switchToRelay moves the call's media mapping onto the relay and
// re-INVITEs with the relayed address.
func (c *Call) switchToRelay(r Relayer, reason string) {
	c.mu.Lock()
	mp := c.mapping
	peers := []netip.Addr{c.neg.Remote.Addr(), c.neg.RemoteRTCP.Addr()}
	if ip, err := netip.ParseAddr(c.d.target.Host); err == nil {
		peers = append(peers, ip.Unmap()) // the far end's Contact, as a registrar may have rewritten it
	}
	c.mu.Unlock()
	if mp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { // the call's end cancels the allocation
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	if err := r.Relay(ctx, mp, peers...); err != nil {
		if !errors.Is(err, portmgr.ErrNoRelay) {
			c.log.Warn("media liveness: relay failed; the call stays on the direct path", "reason", reason, "err", err)
		}
		return
	}
	c.mu.Lock()
	c.relayed, c.relayReason = true, reason
	c.mu.Unlock()
	c.log.Info("media liveness: call moved to the relay", "reason", reason, "relay", mp.External(), "peers", peers, "took", time.Since(start))
	c.ua.emit(&MediaPathEvent{Call: c, Path: MediaPathRelay, Reason: reason})
	// The re-INVITE offers the relayed address. While another re-INVITE
	// is open, try again a little later.
	for range 20 {
		err := c.Refresh()
		if !errors.Is(err, ErrPending) {
			if err != nil && !errors.Is(err, ErrCallState) {
				c.log.Warn("media liveness: re-INVITE", "err", err)
			}
			return
		}
		select {
		case <-c.done:
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}
