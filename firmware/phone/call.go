package phone

import (
	"slices"
	"time"
)

// phase is where one call is.
type phase int

const (
	phCalling  phase = iota // outgoing, no answer yet
	phRinging               // outgoing, the far end rings
	phEarly                 // outgoing, early media
	phIncoming              // incoming, ringing here
	phWaiting               // incoming during another call: the beep, not the bell
	phTalking               // connected (maybe held, either side)
)

// callRec is the phone's record of one call.
type callRec struct {
	call     Call
	line     int
	incoming bool
	phase    phase
	remote   string // as dialled, or the caller's URI
	ident    Identity
	// localHold: we hold it; remoteHold: the far end does (its last
	// offer or answer was sendonly or inactive).
	localHold, remoteHold bool
	// heldAudio: while the far end holds it, audio (music on hold) has
	// arrived, so the speaker plays the call; until then it plays
	// nothing and its clock stops (playCall).
	heldAudio       bool
	conf            bool // a party of the three-way conference
	since, answered time.Time

	// How it ended, for the history.
	kind        string // set when refused or forwarded here
	forwardedTo string
	code        int
	reason      string
	// xfer shows a transfer of this call we asked for.
	xfer string

	noAnswer *time.Timer

	// Audio: the capture loop on its virtual microphone, and in a
	// conference the tap on its received audio.
	vin      *vin
	pump     func()
	pumpDone chan struct{}
	tap      *tap
}

// CallStatus is one call in Status.Calls.
type CallStatus struct {
	ID        string `json:"id"`
	Line      int    `json:"line"`
	Direction string `json:"direction"` // "outgoing" or "incoming"
	// State: calling, ringing (far end rings), early, incoming (rings
	// here), waiting (incoming during another call), talking, held,
	// held_remote, conference.
	State      string    `json:"state"`
	Remote     string    `json:"remote"`
	Identity   Identity  `json:"identity"`
	Active     bool      `json:"active"` // the call the handset/speaker carries
	LocalHold  bool      `json:"local_hold"`
	RemoteHold bool      `json:"remote_hold"`
	Since      time.Time `json:"since"`
	Answered   time.Time `json:"answered,omitzero"`
	// Transfer is the progress of a transfer of this call we asked for
	// ("trying", the far end's NOTIFY status, "failed: ...").
	Transfer string `json:"transfer,omitempty"`
}

func (c *callRec) stateName() string {
	switch c.phase {
	case phCalling:
		return "calling"
	case phRinging:
		return "ringing"
	case phEarly:
		return "early"
	case phIncoming:
		return "incoming"
	case phWaiting:
		return "waiting"
	}
	switch {
	case c.localHold:
		return "held"
	case c.conf:
		return "conference"
	case c.remoteHold:
		return "held_remote"
	}
	return "talking"
}

func (c *callRec) status(active bool) CallStatus {
	dir := "outgoing"
	if c.incoming {
		dir = "incoming"
	}
	id := c.ident
	if id.Name == "" {
		id.Name = c.name()
	}
	return CallStatus{
		ID: c.call.ID(), Line: c.line, Direction: dir, State: c.stateName(), Remote: c.remote,
		Identity: id, Active: active, LocalHold: c.localHold, RemoteHold: c.remoteHold,
		Since: c.since, Answered: c.answered, Transfer: c.xfer,
	}
}

func (c *callRec) name() string { return c.ident.Name }

// phoneState is the phone's state while c is the current call.
func (c *callRec) phoneState() State {
	switch c.phase {
	case phCalling, phRinging:
		return Calling
	case phEarly:
		return Early
	case phIncoming, phWaiting:
		return Ringing
	}
	switch {
	case c.localHold:
		return Held
	case c.remoteHold && !c.conf:
		return HeldRemote
	}
	return Talking
}

func (c *callRec) unanswered() bool { return c.phase == phIncoming || c.phase == phWaiting }

// newRec makes the record of a call, with the far end's identity (and
// a name from the directory when the call gives none).
func (p *Phone) newRec(call Call, line int, incoming bool, remote string) *callRec {
	c := &callRec{call: call, line: line, incoming: incoming, remote: remote, since: time.Now()}
	p.identify(c)
	return c
}

// identify takes the far end's identity from the call (it may change as
// responses arrive: P-Asserted-Identity in a 180 or 200), else the remote
// as dialled or seen, named from the directory when it has no name.
func (p *Phone) identify(c *callRec) {
	var id Identity
	if t, ok := c.call.(Transferer); ok {
		id = t.Identity()
	}
	if id.URI == "" && id.Number == "" {
		id.URI = c.remote
	}
	p.lookupName(&id, c.remote)
	c.ident = id
}

func (p *Phone) find(id string) *callRec {
	for _, c := range p.calls {
		if c.call.ID() == id {
			return c
		}
	}
	return nil
}

// live is the current call unless we hold it.
func (p *Phone) live() *callRec {
	if p.cur != nil && !p.cur.localHold {
		return p.cur
	}
	return nil
}

// alerting is the oldest unanswered incoming call.
func (p *Phone) alerting() *callRec {
	for _, c := range p.calls {
		if c.unanswered() {
			return c
		}
	}
	return nil
}

// waiting is the oldest call waiting (incoming during another).
func (p *Phone) waiting() *callRec {
	for _, c := range p.calls {
		if c.phase == phWaiting {
			return c
		}
	}
	return nil
}

// lastHeld is the newest call we hold, other than not.
func (p *Phone) lastHeld(not *callRec) *callRec {
	for _, c := range slices.Backward(p.calls) {
		if c != not && c.phase == phTalking && c.localHold {
			return c
		}
	}
	return nil
}

// onLine is the oldest call on line n that matches.
func (p *Phone) onLine(n int, match func(*callRec) bool) *callRec {
	for _, c := range p.calls {
		if c.line == n && match(c) {
			return c
		}
	}
	return nil
}

// drop forgets a call that has ended (or was refused before it was
// listed) and writes its history: its timer,
// capture loop, conference and transfer roles go with it.
func (p *Phone) drop(c *callRec) {
	if i := slices.Index(p.calls, c); i >= 0 {
		p.calls = slices.Delete(p.calls, i, i+1)
	}
	if c.noAnswer != nil {
		c.noAnswer.Stop()
		c.noAnswer = nil
	}
	p.stopPump(c)
	if c.conf {
		p.endConference()
	}
	if x := p.xfer; x != nil && (x.held == c || x.consult == c) {
		if x.held == c {
			p.xfer = nil
		} else {
			x.consult = nil
		}
	}
	if c == p.cur {
		p.cur = nil
		p.unmute()
	}
	p.record(c)
}
