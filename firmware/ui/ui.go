package ui

import (
	"github.com/deskphone/phone/hal"
)

// page is a menu screen.
type page int

const (
	pageMenu page = iota + 1
	pageHistory
	pagePhonebook
	pageSpeedDial
	pageNetwork
	pageNAT
	pageLines
	pageAudio
	pageAbout
	pageReset
	pageTransfer
)

var pageTitles = map[page]string{
	pageMenu: "Menu", pageHistory: "Call history", pagePhonebook: "Phonebook", pageSpeedDial: "Speed dial",
	pageNetwork: "Network status", pageNAT: "NAT report", pageLines: "Line status", pageAudio: "Audio",
	pageAbout: "About", pageReset: "Factory reset", pageTransfer: "Transfer to",
}

// menuItems is the main menu, in order; digit n opens item n.
var menuItems = [...]page{pageHistory, pagePhonebook, pageSpeedDial, pageNetwork, pageNAT, pageLines, pageAudio, pageAbout, pageReset}

// frame is one open page: its selection (or first text line) and, for
// the transfer page, the number typed.
type frame struct {
	p     page
	sel   int
	top   int
	input string
}

// UI is the screen's state: which page is open, what is selected. It is
// not safe for concurrent use: one goroutine (Screen's) owns it.
type UI struct {
	v     View
	stack []frame
	// selID is the selected call in the calls list.
	selID string
	// ringing holds the IDs of the calls ringing at the last SetView; a
	// call not in it that rings now closes the menus.
	ringing []string
	// scroll is the marquee position in ticks since the screen changed.
	scroll    int
	animating bool
	// clock caches the idle clock's text for the minute it shows.
	clockMin  int64
	clockText string
	dateText  string
}

// New returns a UI showing the idle screen of an empty View.
func New() *UI { return &UI{clockMin: -1} }

// View returns the view last set.
func (u *UI) View() View { return u.v }

// SetView replaces what the screen shows. A call that starts ringing
// closes any open menu, as on a desk phone, and is selected.
func (u *UI) SetView(v View) {
	var ringingNow []string
	newRing := ""
	for _, c := range v.Calls {
		if !c.State.ringing() {
			continue
		}
		ringingNow = append(ringingNow, c.ID)
		if !contains(u.ringing, c.ID) && newRing == "" {
			newRing = c.ID
		}
	}
	u.ringing = ringingNow
	if newRing != "" {
		u.stack = u.stack[:0]
		u.selID = newRing
		u.scroll = 0
	}
	u.v = v
	if u.callIndex(u.selID) < 0 {
		u.selID = u.defaultCall()
	}
	if top := u.top(); top != nil && top.p == pageTransfer && u.activeCall() < 0 {
		u.stack = u.stack[:0]
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (u *UI) callIndex(id string) int {
	for i, c := range u.v.Calls {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// defaultCall is the call to select: a ringing one, else the active one,
// else the first.
func (u *UI) defaultCall() string {
	for _, c := range u.v.Calls {
		if c.State.ringing() {
			return c.ID
		}
	}
	if i := u.activeCall(); i >= 0 {
		return u.v.Calls[i].ID
	}
	if len(u.v.Calls) > 0 {
		return u.v.Calls[0].ID
	}
	return ""
}

func (u *UI) activeCall() int {
	for i, c := range u.v.Calls {
		if c.Active {
			return i
		}
	}
	for i, c := range u.v.Calls {
		if c.State == CallTalking || c.State == CallHeldRemote || c.State == CallConferenced {
			return i
		}
	}
	return -1
}

// dialing reports whether the dialling screen shows: off hook or digits
// typed, and no call.
func (u *UI) dialing() bool {
	return len(u.v.Calls) == 0 && (u.v.OffHook || u.v.Dialing != "" || u.v.Notice != "")
}

func (u *UI) selected() (Call, bool) {
	if i := u.callIndex(u.selID); i >= 0 {
		return u.v.Calls[i], true
	}
	return Call{}, false
}

func (u *UI) top() *frame {
	if len(u.stack) == 0 {
		return nil
	}
	return &u.stack[len(u.stack)-1]
}

func (u *UI) open(p page) {
	u.stack = append(u.stack, frame{p: p})
	u.scroll = 0
}

// Tick advances the marquee of a text too long for its place. The
// screen calls it every ScrollEvery while Animating.
func (u *UI) Tick() { u.scroll++ }

// Animating reports whether the last frame had scrolling text.
func (u *UI) Animating() bool { return u.animating }

// softKey is what a soft key does on the current screen.
type softKey int

const (
	skNone softKey = iota
	skAnswer
	skReject
	skHold
	skResume
	skTransfer
	skConf
	skSwap
	skEnd
	skMute
	skHistory
	skContacts
	skDND
	skMenu
	skSend
	skCancel
	skBack
	skOK
	skDial
	skDelete
	skReset
	skNo
)

var softLabels = [...]string{
	skAnswer: "Answer", skReject: "Reject", skHold: "Hold", skResume: "Resume", skTransfer: "Transfer",
	skConf: "Conf", skSwap: "Swap", skEnd: "End", skMute: "Mute", skHistory: "History",
	skContacts: "Contacts", skDND: "DND", skMenu: "Menu", skSend: "Send", skCancel: "Cancel",
	skBack: "Back", skOK: "OK", skDial: "Dial", skDelete: "Delete", skReset: "Reset", skNo: "No",
}

// SoftLabels returns the four soft keys' labels on the current screen
// ("" for a key that does nothing).
func (u *UI) SoftLabels() [4]string {
	var out [4]string
	for i, k := range u.softKeys() {
		out[i] = softLabels[k]
	}
	return out
}

func (u *UI) softKeys() [4]softKey {
	if f := u.top(); f != nil {
		switch f.p {
		case pageHistory, pagePhonebook, pageSpeedDial:
			if u.listLen(f.p) > 0 {
				return [4]softKey{skBack, skNone, skNone, skDial}
			}
			return [4]softKey{skBack}
		case pageMenu:
			return [4]softKey{skBack, skNone, skNone, skOK}
		case pageLines:
			return [4]softKey{skBack, skNone, skNone, skDND}
		case pageAudio:
			return [4]softKey{skBack, skNone, skNone, skMute}
		case pageReset:
			return [4]softKey{skNo, skNone, skNone, skReset}
		case pageTransfer:
			return [4]softKey{skBack, skDelete, skNone, skTransfer}
		}
		return [4]softKey{skBack}
	}
	switch len(u.v.Calls) {
	case 0:
		if u.v.Dialing != "" {
			return [4]softKey{skSend, skNone, skNone, skCancel}
		}
		if u.dialing() {
			return [4]softKey{skHistory, skContacts, skNone, skCancel}
		}
		return [4]softKey{skHistory, skContacts, skDND, skMenu}
	case 1:
		return u.callSoftKeys(u.v.Calls[0], false)
	}
	c, _ := u.selected()
	return u.callSoftKeys(c, true)
}

func (u *UI) callSoftKeys(c Call, several bool) [4]softKey {
	switch c.State {
	case CallIncoming, CallWaiting:
		return [4]softKey{skAnswer, skNone, skNone, skReject}
	case CallCalling, CallRingback:
		return [4]softKey{skNone, skNone, skNone, skEnd}
	case CallHeld:
		if several {
			return [4]softKey{skResume, skTransfer, skConf, skEnd}
		}
		return [4]softKey{skResume, skTransfer, skNone, skEnd}
	case CallConferenced:
		return [4]softKey{skHold, skNone, skMute, skEnd}
	}
	if several {
		return [4]softKey{skSwap, skTransfer, skConf, skEnd}
	}
	return [4]softKey{skHold, skTransfer, skMute, skEnd}
}

// Key handles one key event and returns the action it asks for. handled
// is false for keys the screen does not use here (dial keys outside the
// menus, hook, speaker, hold, ...): the caller passes those to the phone.
// Only presses (and auto-repeats of the arrows) do anything; releases
// are never handled.
func (u *UI) Key(ev hal.KeyEvent) (a Action, handled bool) {
	if !ev.Down || ev.Long {
		return Action{}, false
	}
	k := ev.Key
	if ev.Repeat && k != hal.KeyUp && k != hal.KeyDown && k != hal.KeyLeft && k != hal.KeyRight {
		return Action{}, false
	}
	u.scroll = 0
	switch k {
	case hal.KeyMenu:
		if f := u.top(); f != nil && f.p == pageMenu && len(u.stack) == 1 {
			u.stack = u.stack[:0]
		} else {
			u.stack = append(u.stack[:0], frame{p: pageMenu})
		}
		return Action{}, true
	case hal.KeyHistory:
		u.stack = append(u.stack[:0], frame{p: pageHistory})
		return Action{}, true
	case hal.KeyContacts:
		u.stack = append(u.stack[:0], frame{p: pagePhonebook})
		return Action{}, true
	}
	if u.top() != nil {
		return u.pageKey(k)
	}
	switch k {
	case hal.KeySoft1, hal.KeySoft2, hal.KeySoft3, hal.KeySoft4:
		return u.soft(u.softKeys()[k-hal.KeySoft1]), true
	case hal.KeyUp, hal.KeyDown:
		if len(u.v.Calls) > 1 {
			i := u.callIndex(u.selID)
			if k == hal.KeyUp {
				i = max(0, i-1)
			} else {
				i = min(len(u.v.Calls)-1, i+1)
			}
			u.selID = u.v.Calls[i].ID
		}
		return Action{}, true
	case hal.KeyLeft, hal.KeyRight:
		return Action{}, true
	case hal.KeyOK:
		if len(u.v.Calls) == 0 {
			if u.v.Dialing != "" {
				return Action{Kind: ActSend}, true
			}
			return Action{}, true
		}
		c, ok := u.selected()
		if !ok {
			return Action{}, true
		}
		switch c.State {
		case CallIncoming, CallWaiting:
			return Action{Kind: ActAnswer, Call: c.ID}, true
		case CallHeld:
			return Action{Kind: ActResume, Call: c.ID}, true
		}
		return Action{}, true
	case hal.KeyBack:
		if u.dialing() {
			return Action{Kind: ActHangup}, true
		}
		return Action{}, true
	}
	return Action{}, false
}

// soft carries out a soft key of the call and idle screens.
func (u *UI) soft(k softKey) Action {
	c, _ := u.selected()
	switch k {
	case skAnswer:
		return Action{Kind: ActAnswer, Call: c.ID}
	case skReject:
		return Action{Kind: ActReject, Call: c.ID}
	case skEnd:
		return Action{Kind: ActHangup, Call: c.ID}
	case skHold:
		return Action{Kind: ActHold, Call: c.ID}
	case skResume:
		return Action{Kind: ActResume, Call: c.ID}
	case skSwap:
		return Action{Kind: ActSwap}
	case skConf:
		return Action{Kind: ActConference}
	case skMute:
		return Action{Kind: ActMute}
	case skTransfer:
		if len(u.v.Calls) > 1 {
			return Action{Kind: ActTransfer} // attended: the held call to the active one
		}
		u.open(pageTransfer)
	case skSend:
		return Action{Kind: ActSend}
	case skCancel:
		return Action{Kind: ActHangup}
	case skDND:
		line := 0
		return Action{Kind: ActSetDND, Line: line, On: !u.v.DND}
	case skHistory:
		u.open(pageHistory)
	case skContacts:
		u.open(pagePhonebook)
	case skMenu:
		u.open(pageMenu)
	}
	return Action{}
}

// listLen is the number of rows of a list page.
func (u *UI) listLen(p page) int {
	switch p {
	case pageMenu:
		return len(menuItems)
	case pageHistory:
		return len(u.v.History)
	case pagePhonebook:
		return len(u.v.Contacts)
	case pageSpeedDial:
		return len(u.v.SpeedDial)
	case pageLines:
		return len(u.v.Lines)
	case pageAudio:
		return 3
	case pageNetwork, pageNAT, pageAbout:
		return len(u.textLines(p))
	}
	return 0
}

// listRows is how many rows a page shows at once.
const listRows = 4

func (u *UI) pageKey(k hal.Key) (Action, bool) {
	f := u.top()
	n := u.listLen(f.p)
	text := f.p == pageNetwork || f.p == pageNAT || f.p == pageAbout
	if k >= hal.KeySoft1 && k <= hal.KeySoft4 {
		switch u.softKeys()[k-hal.KeySoft1] {
		case skBack, skNo:
			k = hal.KeyBack
		case skOK, skDial, skReset, skTransfer, skMute, skDND:
			k = hal.KeyOK
		case skDelete:
			if f.input != "" {
				f.input = f.input[:len(f.input)-1]
			}
			return Action{}, true
		default:
			return Action{}, true
		}
	}
	switch k {
	case hal.KeyBack:
		u.stack = u.stack[:len(u.stack)-1]
		return Action{}, true
	case hal.KeyUp, hal.KeyDown:
		if text {
			// Text pages scroll by line; sel is the first line shown.
			if k == hal.KeyUp {
				f.sel = max(0, f.sel-1)
			} else {
				f.sel = max(0, min(n-listRows, f.sel+1))
			}
			return Action{}, true
		}
		if n == 0 {
			return Action{}, true
		}
		if k == hal.KeyUp {
			f.sel = (f.sel - 1 + n) % n
		} else {
			f.sel = (f.sel + 1) % n
		}
		if f.sel < f.top {
			f.top = f.sel
		}
		if f.sel >= f.top+listRows {
			f.top = f.sel - listRows + 1
		}
		return Action{}, true
	case hal.KeyLeft, hal.KeyRight:
		if f.p == pageAudio && f.sel == 0 {
			d := 10
			if k == hal.KeyLeft {
				d = -10
			}
			return Action{Kind: ActVolume, Delta: d}, true
		}
		return Action{}, true
	case hal.KeyOK:
		return u.pageOK(f), true
	}
	if k.IsDigit() {
		switch f.p {
		case pageMenu:
			if i := int(k - '1'); k >= '1' && k <= '9' && i < len(menuItems) {
				f.sel = i
				return u.pageOK(f), true
			}
		case pageTransfer:
			if len(f.input) < 32 {
				f.input += string(rune(k))
			}
		}
		return Action{}, true
	}
	// Other keys (hold, speaker, hook...) still reach the phone.
	return Action{}, false
}

func (u *UI) pageOK(f *frame) Action {
	switch f.p {
	case pageMenu:
		u.open(menuItems[f.sel])
	case pageHistory:
		if f.sel < len(u.v.History) {
			e := u.v.History[f.sel]
			u.stack = u.stack[:0]
			return Action{Kind: ActDial, Line: e.Line, Number: e.Number}
		}
	case pagePhonebook, pageSpeedDial:
		list := u.v.Contacts
		if f.p == pageSpeedDial {
			list = u.v.SpeedDial
		}
		if f.sel < len(list) {
			u.stack = u.stack[:0]
			return Action{Kind: ActDial, Line: u.v.DialLine, Number: list[f.sel].Number}
		}
	case pageLines:
		if f.sel < len(u.v.Lines) {
			return Action{Kind: ActSetDND, Line: f.sel, On: !u.v.Lines[f.sel].DND}
		}
	case pageAudio:
		if f.sel == 1 {
			return Action{Kind: ActMute}
		}
	case pageReset:
		u.stack = u.stack[:0]
		return Action{Kind: ActFactoryReset}
	case pageTransfer:
		if f.input == "" {
			return Action{}
		}
		id := ""
		if i := u.activeCall(); i >= 0 {
			id = u.v.Calls[i].ID
		}
		number := f.input
		u.stack = u.stack[:len(u.stack)-1]
		return Action{Kind: ActTransfer, Call: id, Number: number}
	}
	return Action{}
}
