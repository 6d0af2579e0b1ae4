package daemon

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"
	"time"

	"github.com/deskphone/phone/firmware/phone"
	"github.com/deskphone/phone/firmware/ui"
	"github.com/deskphone/phone/firmware/version"
	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/voip/sip"
)

// The screen: the daemon's side of firmware/ui. The UI is a leaf that
// knows nothing of the phone; here the phone's status, the registration
// and the NAT report become a ui.View, and the UI's actions become phone
// calls.
//
// Wiring (daemon.go, actions.go):
//
//	Daemon struct:          scr *screen
//	New, before phone.New:  if d.scr, err = newScreen(d); err != nil { return nil, err }
//	phone.Config:           Board: d.scr.phoneBoard(),
//	Run, before d.ph.Run:   d.scr.start()
//	closeParts, first:      if d.scr != nil { d.scr.close() }
//	api.Config in Run:      Screen: d.scr.image,
//	actions.Key, after KeyByName (the screen takes the keys it uses where
//	it is, e.g. arrows, soft keys, digits in a menu; the rest go on):
//	                        if taken, err := a.d.scr.press(ctx, k); err != nil || taken { return err }
//
// The screen renders on change, never by polling: the phone signals
// every snapshot it publishes (phone.Notify), and the daemon pokes the
// screen when a registration or the port manager's report changes
// (lines.go pump, daemon.go portEvents). Between changes a panel is
// redrawn only when the time it shows changes; a board with no panel
// renders nothing until GET /api/screen.png asks.

// factoryResetCode is initd.FactoryResetCode, the service code the menu's
// factory reset runs (the daemon does not import initd).
const factoryResetCode = "**73738"

// screenActionTimeout bounds one phone call made for a screen action.
const screenActionTimeout = 5 * time.Second

type screen struct {
	d  *Daemon
	ui *ui.Screen
	// ctx bounds the phone calls of actions; close cancels it so that
	// shutdown does not wait for a phone that has stopped.
	ctx    context.Context
	cancel context.CancelFunc
	// board is the board the phone gets: the keypad is the screen's.
	board hal.Board
	// changed wakes the screen for a new view (buffer of one: signals
	// coalesce); the phone and poke send on it.
	changed chan struct{}
}

// newScreen builds the screen for d's board (which may have no display:
// the frames then serve only GET /api/screen.png).
func newScreen(d *Daemon) (*screen, error) {
	s := &screen{d: d, board: *d.board, changed: make(chan struct{}, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cfg := ui.ScreenConfig{View: s.view, Display: d.board.Display, Do: s.do, Logger: d.log, Changed: s.changed,
		// As desk phones do: the backlight dims after a minute idle.
		DimAfter: time.Minute, DimLevel: 30}
	if d.board.Keypad != nil {
		cfg.Keys = d.board.Keypad.Events()
	}
	var err error
	if s.ui, err = ui.NewScreen(cfg); err != nil {
		return nil, fmt.Errorf("daemon: screen: %w", err)
	}
	if d.board.Keypad != nil {
		s.board.Keypad = s.ui.Keypad()
	}
	// The phone must not close the board's devices through its copy.
	s.board.Closer = nil
	return s, nil
}

// phoneBoard is the board for phone.Config: the real devices, with the
// keys the screen does not use.
func (s *screen) phoneBoard() *hal.Board { return &s.board }

func (s *screen) start() {
	s.d.ph.Notify(s.changed)
	s.ui.Start()
}

func (s *screen) close() {
	s.cancel()
	if s.d.ph != nil { // nil when New failed before making the phone
		s.d.ph.Stop(s.changed)
	}
	_ = s.ui.Close()
}

// poke tells the screen that something it shows besides the phone's
// status changed (a registration, the NAT report). It never blocks and
// is safe on a nil screen.
func (s *screen) poke() {
	if s == nil {
		return
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// image is the current frame, for the API.
func (s *screen) image() image.Image { return s.ui.Image() }

// press gives a key pressed through the API to the screen first; taken
// false means it is the phone's (the screen is not running, or has no
// use for it where it is).
func (s *screen) press(ctx context.Context, k hal.Key) (taken bool, err error) {
	taken, err = s.ui.Press(ctx, k)
	if errors.Is(err, ui.ErrNotRunning) {
		return false, nil
	}
	return taken, err
}

// view reads the phone, the UA and the port manager. It runs on the
// screen's goroutine, before every frame.
func (s *screen) view() ui.View {
	d := s.d
	in := viewInput{
		Now: time.Now(), Phone: d.ph.Status(),
		NAT: d.ports().Report(), Codecs: map[string]string{}, Secure: map[string]bool{},
		Version: version.Version, Board: d.board.Name,
	}
	lines := d.linesNow()
	in.Transport = lines[0].ua.Transport()
	for _, l := range lines {
		in.Regs = append(in.Regs, l.ua.Registration())
	}
	for _, a := range d.running().Accounts {
		if !a.Enabled {
			continue
		}
		label := a.User
		if a.DisplayName != "" {
			label = a.DisplayName
		}
		in.Labels = append(in.Labels, label)
		in.Registrar = append(in.Registrar, a.Registrar != "")
		in.TLS = in.TLS || strings.EqualFold(a.Transport, "tls")
	}
	for _, l := range lines {
		for _, c := range l.ua.Calls() {
			in.Codecs[c.ID()] = c.Codec()
			// The lock: SRTP whose keys went only over TLS (SDES keys
			// sent in the clear protect nothing from who saw them).
			if sec := c.Stats().SRTP; sec != nil && sec.Suite != "" && sec.TLSSignalling && !sec.KeysInClear {
				in.Secure[c.ID()] = true
			}
			if t := c.Answered(); !t.IsZero() {
				if in.Answered == nil {
					in.Answered = map[string]time.Time{}
				}
				in.Answered[c.ID()] = t
			}
		}
	}
	return buildView(in)
}

// viewInput is everything buildView reads, as values.
type viewInput struct {
	Now       time.Time
	Phone     phone.Status
	Regs      []sip.RegStatus // by line
	Labels    []string        // by line
	Registrar []bool          // by line: whether the line registers at all
	NAT       portmgr.Report
	Transport sip.TransportStatus
	Codecs    map[string]string    // call ID → codec
	Secure    map[string]bool      // call ID → SRTP with keys sent over TLS only (the lock)
	Answered  map[string]time.Time // call ID → when the UA saw it answered
	TLS       bool
	Version   string
	Board     string
	History   []phone.HistoryEntry
}

// buildView converts the phone's status (the issue 13 contract's Calls
// and Lines, or the single-call fields while those are empty), the
// registrations and the NAT report into the screen's view.
func buildView(in viewInput) ui.View {
	st := in.Phone
	v := ui.View{
		Now: in.Now, MissedCalls: st.MissedCalls, Muted: st.Muted, Volume: st.Volume,
		Route: string(st.Route), Conference: st.Conference, Version: in.Version, Board: in.Board,
	}
	for _, l := range st.Lamps {
		v.Lamps = append(v.Lamps, uiLamp(l))
	}
	if v.Route == "" {
		switch {
		case st.Speaker:
			v.Route = "speaker"
		case st.Handset:
			v.Route = "handset"
		}
	}
	switch st.State {
	case "offhook", "dialing":
		v.OffHook, v.Dialing = true, st.Digits
	case "busy":
		// The call failed or ended; the phone plays busy until hang-up.
		v.OffHook, v.Notice = true, "Call ended"
		if st.Error != "" {
			v.Notice = "Failed: " + st.Error
		}
	}
	n := max(len(in.Labels), len(st.Lines), 1)
	for i := range n {
		l := ui.Line{Label: "Line " + strconv.Itoa(i+1)}
		if i < len(in.Labels) {
			l.Label = in.Labels[i]
		}
		if i < len(in.Regs) && (i >= len(in.Registrar) || in.Registrar[i]) {
			l.Reg, l.Reason = regState(in.Regs[i])
		}
		for _, ls := range st.Lines {
			if ls.Line == i {
				l.DND, l.Forward = ls.DND, ls.Forward.Always
			}
		}
		v.Lines = append(v.Lines, l)
	}
	v.DND = v.Lines[0].DND
	for _, c := range st.Calls {
		v.Calls = append(v.Calls, uiCall(c, in))
	}
	if len(st.Calls) == 0 && st.CallID != "" {
		// The single-call phone: one call from the old fields.
		if cs, ok := legacyCallState(st.State); ok {
			c := ui.Call{ID: st.CallID, Number: numberOf(st.Remote), State: cs, Active: true,
				Codec: in.Codecs[st.CallID], Answered: in.Answered[st.CallID]}
			v.Calls = append(v.Calls, c)
		}
	}
	for _, h := range in.History {
		v.History = append(v.History, ui.HistoryEntry{Kind: h.Kind, Name: h.Name, Number: h.Remote, Line: h.Line, At: h.Start, Duration: h.Duration})
	}
	v.Trouble = trouble(in, v.Lines)
	v.Network, v.NAT, v.NATAdvice = networkItems(in), natItems(in.NAT), natAdvice(in.NAT)
	return v
}

func regState(r sip.RegStatus) (ui.RegState, string) {
	switch r.State {
	case sip.RegRegistered:
		return ui.RegRegistered, ""
	case sip.RegRegistering:
		return ui.RegRegistering, ""
	case sip.RegFailed:
		reason := r.Reason
		if r.Code > 0 {
			reason = strings.TrimSpace(strconv.Itoa(r.Code) + " " + r.Reason)
		}
		return ui.RegFailed, reason
	}
	return ui.RegNone, ""
}

// uiCall converts one call of the contract's Status.Calls.
func uiCall(c phone.CallStatus, in viewInput) ui.Call {
	out := ui.Call{
		ID: c.ID, Line: c.Line, Name: c.Identity.Name, Number: c.Identity.Number, Active: c.Active,
		Since: c.Since, Answered: c.Answered, Codec: in.Codecs[c.ID],
		Secure: in.Secure[c.ID],
	}
	if out.Number == "" {
		out.Number = numberOf(c.Remote)
	}
	if out.Answered.IsZero() {
		out.Answered = in.Answered[c.ID]
	}
	switch c.State {
	case "calling":
		out.State = ui.CallCalling
	case "ringing", "early":
		out.State = ui.CallRingback
	case "incoming":
		out.State = ui.CallIncoming
	case "waiting":
		out.State = ui.CallWaiting
	case "held":
		out.State = ui.CallHeld
	case "held_remote":
		out.State = ui.CallHeldRemote
	case "conference":
		out.State = ui.CallConferenced
	default:
		out.State = ui.CallTalking
	}
	if c.LocalHold && out.State == ui.CallTalking {
		out.State = ui.CallHeld
	} else if c.RemoteHold && out.State == ui.CallTalking {
		out.State = ui.CallHeldRemote
	}
	return out
}

// numberOf is what to show of a far end's URI: its user part (the
// number), else its host; text that is not a SIP URI is kept.
func numberOf(remote string) string {
	u := strings.TrimSpace(remote)
	if i := strings.IndexByte(u, '<'); i >= 0 {
		u = u[i+1:]
		if j := strings.IndexByte(u, '>'); j >= 0 {
			u = u[:j]
		}
	}
	lower := strings.ToLower(u)
	switch {
	case strings.HasPrefix(lower, "sip:"):
		u = u[4:]
	case strings.HasPrefix(lower, "sips:"):
		u = u[5:]
	default:
		return remote
	}
	if i := strings.IndexAny(u, ";?"); i >= 0 {
		u = u[:i]
	}
	if user, host, ok := strings.Cut(u, "@"); ok && user != "" {
		return user
	} else if ok {
		return host
	}
	return u
}

// legacyCallState maps the single-call phone's state.
func legacyCallState(s string) (ui.CallState, bool) {
	switch s {
	case "calling":
		return ui.CallCalling, true
	case "early":
		return ui.CallRingback, true
	case "ringing":
		return ui.CallIncoming, true
	case "talking":
		return ui.CallTalking, true
	case "held":
		return ui.CallHeld, true
	case "held_remote":
		return ui.CallHeldRemote, true
	}
	return 0, false
}

// trouble is the one sentence the idle screen shows about what keeps
// calls from working, most serious first.
func trouble(in viewInput, lines []ui.Line) string {
	for i, l := range lines {
		if l.Reg != ui.RegFailed {
			continue
		}
		if l.Reason != "" {
			return fmt.Sprintf("Line %d not registered: %s", i+1, l.Reason)
		}
		return fmt.Sprintf("Line %d not registered", i+1)
	}
	if in.Transport.State == sip.TransportDown {
		return "Network down: " + in.Transport.LastError
	}
	if in.NAT.ALGSeen {
		return "Router SIP ALG alters calls: turn it off"
	}
	if in.NAT.Type == "symmetric" && in.NAT.MediaStrategy != portmgr.StrategyTURN && in.NAT.MediaStrategy != portmgr.StrategyGateway {
		return "Symmetric NAT: calls may lack audio (see NAT report)"
	}
	return ""
}

func networkItems(in viewInput) []ui.Item {
	var items []ui.Item
	if len(in.Regs) > 0 {
		r := in.Regs[0]
		if r.ContactAddr.IsValid() {
			items = append(items, ui.Item{Label: "Address", Value: r.ContactAddr.Addr().String()})
		}
		if r.Received.IsValid() {
			items = append(items, ui.Item{Label: "Seen as", Value: r.Received.String()})
		}
	}
	if in.NAT.ExternalSIP.IsValid() {
		items = append(items, ui.Item{Label: "External", Value: in.NAT.ExternalSIP.String()})
	}
	t := string(in.Transport.State)
	if t == "" {
		t = "-"
	}
	if in.TLS {
		t += " (TLS)"
	}
	items = append(items, ui.Item{Label: "SIP transport", Value: t})
	if in.Transport.Restarts > 0 {
		items = append(items, ui.Item{Label: "Restarts", Value: strconv.Itoa(in.Transport.Restarts)})
	}
	return items
}

func natItems(r portmgr.Report) []ui.Item {
	typ := r.Type
	if typ == "" {
		typ = "unknown"
	}
	items := []ui.Item{{Label: "Type", Value: typ}}
	if r.Mapping != 0 || r.Filtering != 0 {
		items = append(items, ui.Item{Label: "Mapping", Value: r.Mapping.String()}, ui.Item{Label: "Filtering", Value: r.Filtering.String()})
	}
	if r.ExternalSIP.IsValid() {
		items = append(items, ui.Item{Label: "External", Value: r.ExternalSIP.String()})
	}
	if r.Strategy != "" {
		items = append(items, ui.Item{Label: "Via", Value: string(r.Strategy)})
	}
	if r.Gateway != "" {
		items = append(items, ui.Item{Label: "Gateway", Value: r.Gateway})
	}
	if r.Keepalive > 0 {
		items = append(items, ui.Item{Label: "Keepalive", Value: strconv.FormatFloat(r.Keepalive, 'f', -1, 64) + " s"})
	}
	if r.Error != "" {
		items = append(items, ui.Item{Label: "Error", Value: r.Error})
	}
	return items
}

// natAdvice says in a sentence or two what the NAT means for calls and
// what to do about it.
func natAdvice(r portmgr.Report) string {
	var a string
	switch r.Type {
	case "open", "full-cone":
		a = "Calls should work: the NAT keeps the phone's ports and lets replies in."
	case "restricted-cone", "port-restricted-cone":
		a = "Calls work once the phone has sent first; keepalives hold the NAT binding open."
	case "symmetric":
		a = "The NAT picks a new port for every peer, so the address STUN found is not the one a peer can reach. " +
			"Use a TURN server (nat.turn), a port forward with nat.static_external, or UPnP/NAT-PMP on the router."
	default:
		a = "The NAT type is not known (no STUN server answered, or none is set: nat.stun_servers)."
	}
	if r.ALGSeen {
		a += " A SIP ALG in the router rewrote our messages"
		if r.ALGDetail != "" {
			a += " (" + r.ALGDetail + ")"
		}
		a += ": turn SIP ALG off in the router."
	}
	return a
}

// do carries out a screen action on the phone. It runs on the screen's
// goroutine; each phone call is bounded by screenActionTimeout.
func (s *screen) do(a ui.Action) {
	d := s.d
	ctx, cancel := context.WithTimeout(s.ctx, screenActionTimeout)
	defer cancel()
	// Until the phone implements the issue 13 methods they answer
	// ErrState; the single-call methods then do the same job.
	either := func(multi func() error, single func() error) error {
		err := multi()
		if errors.Is(err, phone.ErrState) && single != nil {
			return single()
		}
		return err
	}
	var err error
	switch a.Kind {
	case ui.ActAnswer:
		err = either(func() error { return d.ph.AnswerCall(ctx, a.Call) }, func() error { return d.ph.Answer(ctx) })
	case ui.ActReject:
		err = either(func() error { return d.ph.RejectCall(ctx, a.Call, 486) }, func() error { return d.ph.Hangup(ctx) })
	case ui.ActHangup:
		if a.Call == "" {
			err = d.ph.Hangup(ctx)
			break
		}
		err = either(func() error { return d.ph.HangupCall(ctx, a.Call) }, func() error { return d.ph.Hangup(ctx) })
	case ui.ActHold:
		err = either(func() error { return d.ph.HoldCall(ctx, a.Call) }, func() error { return d.ph.Hold(ctx) })
	case ui.ActResume:
		err = either(func() error { return d.ph.ResumeCall(ctx, a.Call) }, func() error { return d.ph.Resume(ctx) })
	case ui.ActSwap:
		err = d.ph.Swap(ctx)
	case ui.ActConference:
		err = d.ph.Conference(ctx)
	case ui.ActTransfer:
		err = d.ph.Transfer(ctx, a.Number)
	case ui.ActDial:
		err = either(func() error { return d.ph.CallOn(ctx, a.Line, a.Number) }, func() error { return d.ph.Call(ctx, a.Number) })
	case ui.ActSend:
		// The dial terminator, pressed the keypad's way (a service code
		// typed on the keypad stays the keypad's).
		if t := []rune(d.cfg.DialPlan.Terminator); len(t) == 1 && !a.Remote {
			s.ui.ToPhone(hal.Key(t[0]))
		} else if len(t) == 1 {
			err = d.ph.Press(ctx, hal.Key(t[0]))
		}
	case ui.ActSetDND:
		ls := phone.LineSettings{}
		for _, l := range d.ph.Status().Lines {
			if l.Line == a.Line {
				ls = l.LineSettings
			}
		}
		ls.DND = a.On
		err = d.ph.SetLine(ctx, a.Line, ls)
	case ui.ActVolume:
		k := hal.KeyVolUp
		if a.Delta < 0 {
			k = hal.KeyVolDown
		}
		for range max(1, abs(a.Delta)/10) {
			s.ui.ToPhone(k)
		}
	case ui.ActMute:
		s.ui.ToPhone(hal.KeyMute)
	case ui.ActFactoryReset:
		f, ok := d.codes[factoryResetCode]
		switch {
		case a.Remote:
			// As for the service code: a web page or a token holder
			// must not wipe the phone.
			err = ErrServiceCodeRemote
		case !ok:
			err = errors.New("no factory reset on this system (not running under initd)")
		default:
			d.log.Warn("factory reset requested from the menu")
			f()
		}
	}
	if err != nil {
		d.log.Warn("screen action failed", "action", a.String(), "err", err)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// uiLamp converts a busy lamp key's status for the idle screen.
func uiLamp(l phone.LampStatus) ui.Lamp {
	out := ui.Lamp{Label: l.Label}
	if out.Label == "" {
		out.Label = numberOf(l.User)
	}
	switch l.State {
	case phone.LampIdle:
		out.State = ui.LampIdle
	case phone.LampRinging:
		out.State = ui.LampRinging
	case phone.LampBusy:
		out.State = ui.LampBusy
	}
	return out
}
