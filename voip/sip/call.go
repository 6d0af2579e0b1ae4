package sip

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/media"
	"github.com/deskphone/phone/voip/sdp"
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
type Call struct {
	ua  *UA
	id  string
	dir CallDirection
	log *slog.Logger
	// done is closed when the call ends.
	done chan struct{}

	mu     sync.Mutex // guards following
	state  CallState
	d      dialog
	remote string // display form of the far end
	auth   authState
	// outgoing INVITE
	invite       *siplib.Request
	inviteTx     siplib.ClientTransaction
	provisional  bool // a provisional arrived: CANCEL may be sent
	cancelWanted bool
	cancelSent   bool
	lastRSeq     uint32
	haveRSeq     bool
	confirmed    bool
	lastAck      *siplib.Request
	// incoming INVITE
	inviteReq  *siplib.Request
	serverTx   siplib.ServerTransaction
	relOK      bool // the caller supports 100rel and we enabled it
	rseq       uint32
	relQueue   []*relProv
	pending2xx *siplib.Response
	okRes      *siplib.Response
	okTimer    *time.Timer
	okAcked    bool
	okStarted  time.Time
	okInterval time.Duration
	// offer/answer
	mapping     *portmgr.Mapping
	localSDP    *sdp.Session // our last description (offer or answer)
	remoteOffer *sdp.Session // an offer we still have to answer
	sdpVersion  uint64
	sessionID   uint64
	neg         sdp.Negotiated
	haveNeg     bool
	media       *media.Session
	localHold   bool
	remoteHold  bool
	reinviteOut bool // our re-INVITE is in progress
	reinviteIn  bool // theirs is in progress (waiting for ACK)
	lateOffer   bool
	setupTimer  *time.Timer
	dtmfMu      sync.Mutex
	mediaMu     sync.Mutex
	// times and outcome
	started, answered, ended time.Time
	endCode                  int
	endReason                string
}

func newCall(u *UA, dir CallDirection, id string) *Call {
	c := &Call{
		ua:        u,
		id:        id,
		dir:       dir,
		log:       u.log.With("call_id", id),
		done:      make(chan struct{}),
		started:   time.Now(),
		sessionID: uint64(time.Now().UnixNano()) & 0x7fffffffffff,
	}
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
}

// Stats returns a snapshot of the call, with RTP counters once media runs.
func (c *Call) Stats() CallStats {
	c.mu.Lock()
	s := CallStats{
		ID: c.id, Direction: c.dir, State: c.state, Remote: c.remote,
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
	c.mu.Unlock()
	close(c.done)
	if m != nil {
		if err := m.Close(); err != nil {
			c.log.Debug("media close", "err", err)
		}
	}
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
}

// matches reports whether an in-dialog request from the far end belongs
// to this dialog: our tag in To and, once known, theirs in From.
func (c *Call) matches(req *siplib.Request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.To() == nil || req.From() == nil {
		return false
	}
	if tagOf(req.To().Params) != c.d.localTag {
		return false
	}
	if rt := c.d.remoteTag; rt != "" && tagOf(req.From().Params) != rt {
		return false
	}
	return true
}

// newRequestLocked builds a request inside the dialog (RFC 3261 §12.2.1.1).
// ACK and CANCEL take the CSeq number they are given; others increment ours.
func (c *Call) newRequestLocked(method siplib.RequestMethod, cseq uint32) *siplib.Request {
	u := c.ua
	d := &c.d
	ruri := *d.target.Clone()
	routes := d.routes
	if len(routes) > 0 && !isLoose(routes[0]) {
		// Strict router: it becomes the Request-URI's next hop (§12.2.1.1).
		ruri = *routes[0].Clone()
		routes = append(append([]siplib.Uri(nil), routes[1:]...), *d.target.Clone())
	}
	req := siplib.NewRequest(method, ruri)
	req.AppendHeader(u.newVia())
	mf := siplib.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	from := &siplib.FromHeader{DisplayName: d.localName, Address: *d.local.Clone(), Params: siplib.NewParams()}
	from.Params.Add("tag", d.localTag)
	req.AppendHeader(from)
	to := &siplib.ToHeader{DisplayName: d.remoteName, Address: *d.remote.Clone(), Params: siplib.NewParams()}
	if d.remoteTag != "" {
		to.Params.Add("tag", d.remoteTag)
	}
	req.AppendHeader(to)
	cid := siplib.CallIDHeader(d.callID)
	req.AppendHeader(&cid)
	if cseq == 0 {
		d.localSeq++
		cseq = d.localSeq
	}
	req.AppendHeader(&siplib.CSeqHeader{SeqNo: cseq, MethodName: method})
	for _, r := range routes {
		req.AppendHeader(&siplib.RouteHeader{Address: *r.Clone()})
	}
	if len(routes) == 0 && u.cfg.Account.OutboundProxy != "" {
		u.mu.Lock()
		srv := u.server
		u.mu.Unlock()
		if srv.IsValid() {
			req.SetDestination(hostPort(srv))
		}
	}
	req.AppendHeader(siplib.NewHeader("User-Agent", u.cfg.UserAgent))
	return req
}

// newResponse builds a response to req inside this dialog, with our tag
// and Contact.
func (c *Call) newResponse(req *siplib.Request, code int, reason string) *siplib.Response {
	res := c.ua.newResponse(req, code, reason)
	if code > 100 {
		if to := res.To(); to != nil {
			to.Params.Add("tag", c.d.localTag)
		}
	}
	if code > 100 && code < 300 && req.IsInvite() {
		res.AppendHeader(c.ua.contactHeader())
	}
	return res
}

func withSDP(m interface {
	SetBody([]byte)
	AppendHeader(siplib.Header)
}, s *sdp.Session) {
	if s == nil {
		return
	}
	m.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	m.SetBody(s.Marshal())
}

func isSDP(m interface {
	Body() []byte
	ContentType() *siplib.ContentTypeHeader
}) bool {
	if len(m.Body()) == 0 {
		return false
	}
	ct := m.ContentType()
	if ct == nil {
		return false
	}
	v := strings.ToLower(strings.TrimSpace(ct.Value()))
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v == "application/sdp"
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
