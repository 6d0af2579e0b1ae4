package phone

import "time"

// History receives one entry per call when it ends (optional).
type History interface {
	Add(HistoryEntry)
}

// HistoryEntry is one placed, received, missed, rejected or forwarded call.
type HistoryEntry struct {
	// Kind is "placed", "received", "missed", "rejected" or "forwarded".
	Kind        string        `json:"kind"`
	Line        int           `json:"line"`
	Remote      string        `json:"remote"` // the far end's URI or number, as dialled or seen
	Name        string        `json:"name,omitempty"`
	Start       time.Time     `json:"start"`
	Duration    time.Duration `json:"-"` // talk time, zero when not answered
	Code        int           `json:"code,omitempty"`
	Reason      string        `json:"reason,omitempty"`
	ForwardedTo string        `json:"forwarded_to,omitempty"`
}

// History kinds.
const (
	KindPlaced    = "placed"    // we called; Code says how it failed, if it did
	KindReceived  = "received"  // it rang here and was answered here
	KindMissed    = "missed"    // it rang (or was refused busy) and nobody here answered
	KindRejected  = "rejected"  // refused here: the user, DND, or a call that could not be forwarded
	KindForwarded = "forwarded" // sent elsewhere (302) by a forwarding rule
)

// Directory is the phonebook as the phone uses it (optional).
type Directory interface {
	// Lookup returns the name stored for a number or URI.
	Lookup(number string) (name string, ok bool)
	// SpeedDial returns the number stored for a speed-dial digit.
	SpeedDial(key rune) (number string, ok bool)
}

// record writes the history entry of a call that has just ended. A
// missed call counts in Status.MissedCalls until the user looks.
func (p *Phone) record(c *callRec) {
	kind := c.kind
	switch {
	case kind != "":
	case !c.incoming:
		kind = KindPlaced
	case !c.answered.IsZero():
		kind = KindReceived
	default:
		kind = KindMissed
	}
	if kind == KindMissed {
		p.missed++
	}
	var talk time.Duration
	if !c.answered.IsZero() {
		talk = time.Since(c.answered)
	}
	e := HistoryEntry{
		Kind: kind, Line: c.line, Remote: c.remote, Name: c.name(), Start: c.since,
		Duration: talk, Code: c.code, Reason: c.reason, ForwardedTo: c.forwardedTo,
	}
	p.log.Info("call ended", "kind", kind, "line", c.line, "remote", c.remote, "call_id", c.call.ID(), "talk", talk, "code", c.code)
	if p.cfg.History != nil {
		p.cfg.History.Add(e)
	}
}

// lookupName names a caller from the directory when the call gives no
// display name.
func (p *Phone) lookupName(id *Identity, remote string) {
	if id.Name != "" || p.cfg.Directory == nil {
		return
	}
	for _, k := range []string{id.Number, id.URI, remote} {
		if k == "" {
			continue
		}
		if n, ok := p.cfg.Directory.Lookup(k); ok {
			id.Name = n
			return
		}
	}
}
