package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/deskphone/phone/voip/media"
	"github.com/deskphone/phone/voip/sip/digest"
	siplib "github.com/emiago/sipgo/sip"
)

// CallState is where a call is.
type CallState string

const (
	// StateCalling: our INVITE is out, nothing but 100 back yet.
	StateCalling CallState = "calling"
	// StateRinging: the far end rings (180), play local ringback.
	StateRinging CallState = "ringing"
	// StateEarly: early media from the far end (183 with SDP) plays.
	StateEarly CallState = "early"
	// StateIncoming: an incoming call rings here; Answer or Reject it.
	StateIncoming CallState = "incoming"
	// StateTalking: answered and confirmed.
	StateTalking CallState = "talking"
	// StateHeld: we put the call on hold.
	StateHeld CallState = "held"
	// StateEnded: the call is over; see EndCode/EndReason.
	StateEnded CallState = "ended"
)

// CallDirection says who placed the call.
type CallDirection string

const (
	Outgoing CallDirection = "outgoing"
	Incoming CallDirection = "incoming"
)

// Call is one call (one INVITE dialog). Its methods are safe for
// concurrent use and never wait on the network: requests are sent and
// progress arrives as CallEvents.
//
// Its state is laid out by role, as sipgo lays out its layers: what
// every call has is here (call.go), the dialog in call_dialog.go, the
// client side of the initial INVITE in uacState (call_uac.go), the
// server side of INVITE transactions in uasState (call_uas.go), the
// offer/answer and media in mediaState (call_media.go), re-INVITEs in
// call_reinvite.go, DTMF in call_dtmf.go and transfer in call_refer.go.
type Call struct {
	ua  *UA
	id  string
	dir CallDirection
	log *slog.Logger
	// done is closed when the call ends.
	done chan struct{}

	mu        sync.Mutex // guards following, and the embedded states
	state     CallState
	d         dialog
	remote    string // display form of the far end
	auth      authState
	confirmed bool            // the dialog is confirmed (ACK sent or received)
	lastAck   *siplib.Request // our ACK for the last 2xx we got
	identity  Identity        // who the far end is (identity.go)
	peerAddr  netip.Addr      // where the message that set up the dialog came from
	uacState
	uasState
	mediaState
	referState
	// times and outcome
	started, answered, ended time.Time
	endCode                  int
	endReason                string

	dtmfMu  sync.Mutex // orders the digits SendDTMF sends
	mediaMu sync.Mutex // serialises applyNeg

	// Set before the call is published, then read only.
	notify    *referIn // a call placed for a REFER: reports its progress
	viaServer bool     // its INVITEs go to the registrar (see dialOpts)
}

func newCall(u *UA, dir CallDirection, id string) *Call {
	c := &Call{
		ua:      u,
		id:      id,
		dir:     dir,
		log:     u.log.With("call_id", id),
		done:    make(chan struct{}),
		started: time.Now(),
	}
	c.sessionID = uint64(time.Now().UnixNano()) & 0x7fffffffffff
	c.d.callID = id
	return c
}

// ID is the SIP Call-ID.
func (c *Call) ID() string { return c.id }

// Direction says whether we placed or received the call.
func (c *Call) Direction() CallDirection { return c.dir }

// Done is closed when the call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// State is the call's current state.
func (c *Call) State() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Remote is the far end's address (display name and URI).
func (c *Call) Remote() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// Media is the call's RTP session, nil until media was negotiated (on
// answer, or on early media).
func (c *Call) Media() *media.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.media
}

// Codec is the negotiated codec name ("PCMU", "PCMA"), empty before.
func (c *Call) Codec() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.haveNeg {
		return ""
	}
	return c.neg.Codec.Name
}

// Started is when the call was placed or arrived.
func (c *Call) Started() time.Time { return c.started }

// Answered is when the call was answered (zero if not).
func (c *Call) Answered() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// EndCode and EndReason say why the call ended: the SIP status (e.g. 486,
// 487) or 0 with a local reason ("local hangup", "remote hangup").
func (c *Call) EndCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endCode
}

// EndReason is the text that goes with EndCode.
func (c *Call) EndReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endReason
}

// CallStats is a snapshot of a call for status pages.
type CallStats struct {
	ID         string        `json:"id"`
	Direction  CallDirection `json:"direction"`
	State      CallState     `json:"state"`
	Remote     string        `json:"remote"`
	Identity   Identity      `json:"identity,omitzero"`
	Codec      string        `json:"codec,omitempty"`
	DTMF       string        `json:"dtmf,omitempty"` // "rfc4733" or "info"
	LocalHold  bool          `json:"local_hold"`
	RemoteHold bool          `json:"remote_hold"`
	MediaLocal string        `json:"media_local,omitempty"` // advertised RTP address
	MediaPeer  string        `json:"media_remote,omitempty"`
	Started    time.Time     `json:"started"`
	Answered   time.Time     `json:"answered,omitzero"`
	Ended      time.Time     `json:"ended,omitzero"`
	EndCode    int           `json:"end_code,omitempty"`
	EndReason  string        `json:"end_reason,omitempty"`
	RTP        *media.Stats  `json:"rtp,omitempty"`
	// SRTP is the media security; nil for plain RTP.
	SRTP *CallSecurity `json:"srtp,omitempty"`
}

// Stats returns a snapshot of the call, with RTP counters once media runs.
func (c *Call) Stats() CallStats {
	c.mu.Lock()
	s := CallStats{
		ID: c.id, Direction: c.dir, State: c.state, Remote: c.remote, Identity: c.identity,
		LocalHold: c.localHold, RemoteHold: c.remoteHold,
		Started: c.started, Answered: c.answered, Ended: c.ended,
		EndCode: c.endCode, EndReason: c.endReason,
	}
	if c.haveNeg {
		s.Codec = c.neg.Codec.Name
		s.MediaPeer = c.neg.Remote.String()
		s.DTMF = "info"
		if c.neg.DTMF.PT != 0 {
			s.DTMF = "rfc4733"
		}
	}
	if c.mapping != nil {
		s.MediaLocal = c.mapping.External().String()
	}
	s.SRTP = c.securityLocked()
	m := c.media
	c.mu.Unlock()
	if m != nil {
		st := m.Stats()
		s.RTP = &st
	}
	return s
}

// event emits a CallEvent for the current state.
func (c *Call) eventLocked(code int, reason string, early bool) *CallEvent {
	return &CallEvent{Call: c, State: c.state, Code: code, Reason: reason, EarlyMedia: early,
		LocalHold: c.localHold, RemoteHold: c.remoteHold}
}

// finish ends the call once: stops timers, closes media, releases the
// media mapping, removes the call and emits the final CallEvent.
func (c *Call) finish(code int, reason string, emit bool) {
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return
	}
	c.state = StateEnded
	c.ended = time.Now()
	c.endCode, c.endReason = code, reason
	if c.setupTimer != nil {
		c.setupTimer.Stop()
	}
	if c.okTimer != nil {
		c.okTimer.Stop()
	}
	for _, r := range c.relQueue {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
	c.relQueue = nil
	m, mp := c.media, c.mapping
	ev := c.eventLocked(code, reason, false)
	ro := c.referOut
	c.mu.Unlock()
	close(c.done)
	if m != nil {
		if err := m.Close(); err != nil {
			c.log.Debug("media close", "err", err)
		}
	}
	c.closeDTLS() // call_dtls.go: after the media session, before the sockets go
	if mp != nil {
		if err := c.ua.cfg.Mapper.Release(mp); err != nil {
			c.log.Debug("release media mapping", "err", err)
		}
	}
	c.ua.removeCall(c)
	c.log.Info("call ended", "code", code, "reason", reason)
	if emit {
		c.ua.emit(ev)
	}
	if ro != nil {
		// A transfer still open has no dialog left to report on.
		c.referDone(ro, 487, "call ended before the transfer completed", emit)
	}
}

// Hangup ends the call: CANCEL before an answer (outgoing), 603 Decline
// for an unanswered incoming call, BYE once answered. It returns at once.
func (c *Call) Hangup() error {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch {
	case st == StateEnded:
		return nil
	case c.dir == Incoming && st == StateIncoming || c.dir == Incoming && st == StateEarly:
		return c.Reject(603)
	case c.dir == Outgoing && (st == StateCalling || st == StateRinging || st == StateEarly):
		c.cancel(0, "local hangup")
		return nil
	}
	c.bye(context.Background(), "local hangup", false)
	return nil
}

// hangupAndWait is Hangup for Close: BYE and wait for its answer (bounded
// by ctx).
func (c *Call) hangupAndWait(ctx context.Context) {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch {
	case st == StateEnded:
	case c.dir == Incoming && (st == StateIncoming || st == StateEarly):
		_ = c.Reject(603)
	case c.dir == Outgoing && (st == StateCalling || st == StateRinging || st == StateEarly):
		c.cancel(0, "closed")
		select {
		case <-c.done:
		case <-ctx.Done():
		}
	default:
		c.bye(ctx, "closed", true)
	}
}

// bye sends BYE (RFC 3261 §15.1.1) and ends the call. With wait it waits
// for the response (bounded by ctx); otherwise the transaction finishes
// in the background.
func (c *Call) bye(ctx context.Context, reason string, wait bool) {
	c.mu.Lock()
	if c.state == StateEnded {
		c.mu.Unlock()
		return
	}
	req := c.newRequestLocked(siplib.BYE, 0)
	c.mu.Unlock()
	c.finish(0, reason, true)
	c.sendBye(ctx, req, wait)
}

// sendBye sends req (a BYE) and drains its transaction, waiting for it
// when wait is set.
func (c *Call) sendBye(ctx context.Context, req *siplib.Request, wait bool) {
	tx, err := c.ua.request(ctx, req)
	if err != nil {
		c.log.Debug("send BYE", "err", err)
		return
	}
	drain := func(ctx context.Context) {
		defer tx.Terminate()
		for {
			select {
			case res := <-tx.Responses():
				if !res.IsProvisional() {
					return
				}
			case <-tx.Done():
				return
			case <-ctx.Done():
				return
			}
		}
	}
	if wait {
		drain(ctx)
		return
	}
	c.ua.goFn(func() { drain(c.ua.ctx) })
}

func (c *Call) onBye(req *siplib.Request, tx *siplib.ServerTx) {
	c.ua.send(tx, c.newResponse(req, 200, "OK"))
	c.mu.Lock()
	incomingUnanswered := c.dir == Incoming && c.serverTx != nil && !c.confirmed && c.okRes == nil
	stx, inv := c.serverTx, c.inviteReq
	c.mu.Unlock()
	if incomingUnanswered && stx != nil {
		// RFC 3261 §15.1.2: BYE in an early dialog ends the INVITE with 487.
		c.ua.send(stx, c.newResponse(inv, 487, "Request Terminated"))
	}
	c.finish(0, "remote hangup", true)
}

// credentials are the account's digest credentials.
func (c *Call) credentials() digest.Credentials {
	a := c.ua.cfg.Account
	return digest.Credentials{Username: a.AuthUser, Password: a.Password}
}

func (c *Call) String() string { return fmt.Sprintf("call %s (%s)", c.id, c.dir) }

// emitState emits a CallEvent with the current state.
func (c *Call) emitState(code int, reason string) {
	c.mu.Lock()
	ev := c.eventLocked(code, reason, false)
	c.mu.Unlock()
	c.ua.emit(ev)
}
