package ui

import (
	"image"
	"image/color"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reference panel size: the 128×64 monochrome panels of the boards.
const (
	Width  = 128
	Height = 64
)

// Palette is the frames' colour table: index 0 dark, 1 lit.
var Palette = color.Palette{color.Gray{Y: 0}, color.Gray{Y: 255}}

// NewFrame returns a dark frame of the reference size.
func NewFrame() *image.Paletted {
	return image.NewPaletted(image.Rect(0, 0, Width, Height), Palette)
}

// Layout, in pixels.
const (
	barH     = 9  // the status bar (text row 0..8), a rule under it
	contentY = 11 // first content row
	rowH     = 10 // list row pitch (one text line plus a spacer)
	softY    = Height - LineHeight
	// marquee: ticks before a long text starts to move, pixels per tick.
	marqueeWait = 8
	marqueeStep = 2
)

// Render draws the current screen into dst (any size; the layout is
// made for Width×Height and anchors the soft keys to the bottom).
func (u *UI) Render(dst *image.Paletted) {
	c := newCanvas(dst)
	c.fill(c.clip, false)
	u.animating = false
	w := dst.Rect.Dx()
	if f := u.top(); f != nil {
		u.renderPage(&c, f, w)
	} else {
		switch len(u.v.Calls) {
		case 0:
			if u.dialing() {
				u.statusBar(&c, w, true)
				u.renderDialing(&c, w)
			} else {
				u.statusBar(&c, w, false)
				u.renderIdle(&c, w)
			}
		case 1:
			u.statusBar(&c, w, true)
			u.renderCall(&c, u.v.Calls[0], w)
		default:
			u.statusBar(&c, w, true)
			u.renderCalls(&c, w)
		}
	}
	u.softBar(&c, w, dst.Rect.Dy())
}

// marquee returns the scroll offset for a long text, or -1 to cut it
// with an ellipsis (when the text is short enough the offset is unused).
func (u *UI) marquee(s string, room int) int {
	if TextWidth(s) <= room {
		return -1
	}
	u.animating = true
	return max(0, u.scroll-marqueeWait) * marqueeStep
}

// statusBar draws the line states on the left and the indicators and,
// when withClock, the time on the right, with a rule under them.
func (u *UI) statusBar(c *canvas, w int, withClock bool) {
	x := 0
	for i, l := range u.v.Lines {
		if i >= 4 {
			break
		}
		x = c.icon(x, 0, regIcon(l.Reg), true)
		if len(u.v.Lines) == 1 {
			x = c.text(x+1, 0, l.Label, w/2, true) + 3
		} else {
			x = c.text(x, 0, strconv.Itoa(i+1), w, true) + 3
		}
	}
	right := w
	if withClock {
		t := u.clock()
		right -= TextWidth(t)
		c.text(right, 0, t, w, true)
		right -= 4
	}
	if u.v.Voicemail > 0 {
		right = u.rightIcon(c, right, iconMail, u.v.Voicemail)
	}
	if u.v.MissedCalls > 0 {
		right = u.rightIcon(c, right, iconMissed, u.v.MissedCalls)
	}
	if u.v.DND {
		right = u.rightIcon(c, right, iconDND, 0)
	}
	if u.v.Muted {
		u.rightIcon(c, right, iconMute, 0)
	}
	c.hline(0, w, barH, true)
}

// rightIcon draws an icon and, when n > 0, a count, ending at right; it
// returns the new right edge.
func (u *UI) rightIcon(c *canvas, right int, icon rune, n int) int {
	if n > 0 {
		s := smallInt(n)
		right -= TextWidth(s)
		c.text(right, 0, s, right+TextWidth(s), true)
		right--
	}
	right -= int(iconGlyph(icon).w)
	c.icon(right, 0, icon, true)
	return right - 3
}

// smallInt formats counters, capping them at 99+.
func smallInt(n int) string {
	if n > 99 {
		return "99+"
	}
	return strconv.Itoa(n)
}

func regIcon(s RegState) rune {
	switch s {
	case RegRegistered:
		return iconRegOK
	case RegFailed:
		return iconRegFail
	case RegRegistering:
		return iconRegWait
	}
	return iconOut // no registrar: calls out directly
}

// clock returns "15:04", cached for the minute.
func (u *UI) clock() string {
	m := u.v.Now.Unix() / 60
	if m != u.clockMin || u.clockText == "" {
		u.clockMin = m
		u.clockText = u.v.Now.Format("15:04")
		u.dateText = u.v.Now.Format("Mon 2 Jan 2006")
	}
	return u.clockText
}

func (u *UI) renderIdle(c *canvas, w int) {
	t := u.clock()
	tw := TextWidth(t) * 2
	c.textScaled((w-tw)/2, contentY, t, w, 2, true)
	y := contentY + 2*LineHeight + 1
	if len(u.v.Lamps) > 0 {
		u.renderLamps(c, y, w)
	} else {
		c.text((w-TextWidth(u.dateText))/2, y, u.dateText, w, true)
	}
	y += rowH + 1
	var msg string
	switch {
	case u.v.Trouble != "":
		// Trouble is shown inverted, to be seen from across the desk.
		c.fill(image.Rect(0, y-1, w, y+LineHeight), true)
		c.icon(1, y, iconRegFail, false)
		c.fitText(8, y, u.v.Trouble, w-1, u.marquee(u.v.Trouble, w-9), false)
		return
	case u.v.MissedCalls == 1:
		msg = "1 missed call"
	case u.v.MissedCalls > 1:
		msg = smallInt(u.v.MissedCalls) + " missed calls"
	case u.v.Voicemail > 0:
		msg = smallInt(u.v.Voicemail) + " new voicemail"
	case u.v.DND:
		msg = "Do not disturb"
	case len(u.v.Lines) > 0 && u.v.Lines[0].Forward != "":
		msg = "Forward to " + u.v.Lines[0].Forward
	}
	if msg != "" {
		c.fitText(max(0, (w-TextWidth(msg))/2), y, msg, w, u.marquee(msg, w), true)
	}
}

func (u *UI) renderDialing(c *canvas, w int) {
	title := "Dial"
	if l := u.v.DialLine; l >= 0 && l < len(u.v.Lines) && len(u.v.Lines) > 1 {
		title = "Dial on line " + strconv.Itoa(l+1)
	}
	c.text(0, contentY, title, w, true)
	if u.v.Notice != "" && u.v.Dialing == "" {
		c.fitText(max(0, (w-TextWidth(u.v.Notice))/2), contentY+rowH+6, u.v.Notice, w, u.marquee(u.v.Notice, w), true)
		return
	}
	d := u.v.Dialing
	if d == "" {
		c.text(0, contentY+rowH+6, "Enter a number", w, true)
		return
	}
	// Big digits when they fit, else the tail of the number in the small
	// font (what was typed last is what one checks).
	if tw := TextWidth(d) * 2; tw <= w {
		c.textScaled(w-tw, contentY+rowH+2, d, w, 2, true)
		return
	}
	for d != "" && TextWidth(d) > w {
		d = d[1:]
	}
	c.text(w-TextWidth(d), contentY+rowH+6, d, w, true)
}

// duration formats a call's time as m:ss or h:mm:ss.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	b := make([]byte, 0, 8)
	if s >= 3600 {
		b = strconv.AppendInt(b, int64(s/3600), 10)
		b = append(b, ':')
		b = append(b, byte('0'+s/60%60/10), byte('0'+s/60%10))
	} else {
		b = strconv.AppendInt(b, int64(s/60), 10)
	}
	b = append(b, ':', byte('0'+s%60/10), byte('0'+s%10))
	return string(b)
}

// who is what to call the far end: its name (the call's, else the
// phonebook's for its number), else the number; named says a name was
// found.
func (u *UI) who(c Call) (who string, named bool) {
	if c.Name != "" {
		return c.Name, true
	}
	if c.Number != "" {
		for _, e := range u.v.Contacts {
			if e.Name != "" && sameNumber(e.Number, c.Number) {
				return e.Name, true
			}
		}
		return c.Number, false
	}
	return "Unknown", false
}

// sameNumber compares two numbers ignoring spaces, dashes, dots and
// brackets, and a sip: prefix and @host suffix.
func sameNumber(a, b string) bool {
	na, nb := bareNumber(a), bareNumber(b)
	return na != "" && na == nb
}

func bareNumber(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sips:"), "sip:")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return r
	}, s)
}

// callTime is the timer a call shows: talk time once answered.
func (u *UI) callTime(cl Call) (string, bool) {
	if cl.Answered.IsZero() || cl.State.ringing() {
		return "", false
	}
	return duration(u.v.Now.Sub(cl.Answered)), true
}

func (u *UI) renderCall(c *canvas, cl Call, w int) {
	y := contentY
	x := 0
	if cl.State.ringing() {
		x = c.icon(0, y, iconIn, true) + 1
	}
	state := cl.State.String()
	c.text(x, y, state, w, true)
	if t, ok := u.callTime(cl); ok {
		c.text(w-TextWidth(t), y, t, w, true)
	} else if len(u.v.Lines) > 1 {
		l := "L" + strconv.Itoa(cl.Line+1)
		c.text(w-TextWidth(l), y, l, w, true)
	}
	y += rowH + 1
	who, named := u.who(cl)
	c.fitText(0, y, who, w, u.marquee(who, w), true)
	y += rowH
	if named && cl.Number != "" {
		c.fitText(0, y, cl.Number, w, -1, true)
	}
	y += rowH
	// The last row: a lock for a secure call, the codec, hold and mute.
	x = 0
	if cl.Secure {
		x = c.icon(x, y, iconLock, true) + 2
	}
	if cl.Codec != "" {
		x = c.text(x, y, cl.Codec, w, true) + 4
	}
	if cl.State == CallHeld || cl.State == CallHeldRemote {
		x = c.icon(x, y, iconHold, true) + 2
	}
	if cl.State == CallConferenced || u.v.Conference {
		x = c.icon(x, y, iconConf, true) + 2
	}
	if u.v.Muted && !cl.State.ringing() {
		c.icon(x, y, iconMute, true)
	}
	if cl.State.ringing() && len(u.v.Lines) > 0 && cl.Line < len(u.v.Lines) {
		l := "to " + u.v.Lines[cl.Line].Label
		c.fitText(max(x, w-TextWidth(l)), y, l, w, -1, true)
	}
}

// renderCalls lists several calls; the selected one is inverted.
func (u *UI) renderCalls(c *canvas, w int) {
	sel := max(0, u.callIndex(u.selID))
	top := 0
	if sel >= listRows {
		top = sel - listRows + 1
	}
	for i := top; i < len(u.v.Calls) && i < top+listRows; i++ {
		cl := u.v.Calls[i]
		y := contentY + (i-top)*rowH
		on := true
		if i == sel {
			c.fill(image.Rect(0, y-1, w, y+LineHeight), true)
			on = false
		}
		var icon rune
		switch cl.State {
		case CallIncoming, CallWaiting:
			icon = iconIn
		case CallHeld, CallHeldRemote:
			icon = iconHold
		case CallConferenced:
			icon = iconConf
		default:
			icon = iconOut
		}
		x := c.icon(1, y, icon, on) + 1
		right := w - 1
		if t, ok := u.callTime(cl); ok {
			right -= TextWidth(t)
			c.text(right, y, t, w, on)
			right -= 3
		}
		who, _ := u.who(cl)
		scroll := -1
		if i == sel {
			scroll = u.marquee(who, right-x)
		}
		c.fitText(x, y, who, right, scroll, on)
	}
	if top > 0 {
		c.icon(w-5, contentY-2, iconUp, true)
	}
}

// shortLabels are used when the full labels do not fit side by side.
var shortLabels = map[softKey]string{skHistory: "Hist", skContacts: "Book", skTransfer: "Xfer"}

// softGap is the least space between two soft-key labels.
const softGap = 4

// softBar draws the soft keys' labels along the bottom, each under its
// key where it can be and pushed aside where a long label needs room;
// when the full labels cannot fit, the short forms are used.
func (u *UI) softBar(c *canvas, w, h int) {
	keys := u.softKeys()
	y := h - LineHeight
	c.hline(0, w, y-1, true)
	var labels [4]string
	var xs, ws [4]int
	total, n := 0, 0
	for i, k := range keys {
		labels[i] = softLabels[k]
		ws[i] = TextWidth(labels[i])
		if ws[i] > 0 {
			total += ws[i]
			n++
		}
	}
	if total+softGap*(n-1) > w {
		for i, k := range keys {
			if s, ok := shortLabels[k]; ok {
				labels[i] = s
				ws[i] = TextWidth(s)
			}
		}
	}
	slot := w / 4
	for i := range keys {
		xs[i] = slot*i + (slot-ws[i])/2
	}
	// Push right so labels do not touch, then left to stay on screen.
	prev := 0
	for i := range keys {
		if ws[i] == 0 {
			continue
		}
		xs[i] = max(xs[i], prev)
		prev = xs[i] + ws[i] + softGap
	}
	next := w
	for i := 3; i >= 0; i-- {
		if ws[i] == 0 {
			continue
		}
		xs[i] = max(0, min(xs[i], next-ws[i]))
		next = xs[i] - softGap
	}
	for i := range keys {
		if ws[i] > 0 {
			c.text(xs[i], y, labels[i], w, true)
		}
	}
}

// renderPage draws an open menu page: an inverted title bar, then rows.
func (u *UI) renderPage(c *canvas, f *frame, w int) {
	c.fill(image.Rect(0, 0, w, barH), true)
	title := pageTitles[f.p]
	c.text(2, 0, title, w-30, false)
	if t := u.clock(); !u.v.Now.IsZero() {
		c.text(w-1-TextWidth(t), 0, t, w, false)
	}
	switch f.p {
	case pageTransfer:
		c.text(0, contentY+2, "Number:", w, true)
		in := f.input
		for in != "" && TextWidth(in+"_") > w {
			in = in[1:]
		}
		c.text(0, contentY+2+rowH+2, in+"_", w, true)
		return
	case pageReset:
		c.text(0, contentY+2, "Erase all settings", w, true)
		c.text(0, contentY+2+rowH, "and restart?", w, true)
		return
	case pageNetwork, pageNAT, pageAbout:
		lines := u.textLines(f.p)
		for i := 0; i < listRows && f.sel+i < len(lines); i++ {
			c.text(0, contentY+i*rowH, lines[f.sel+i], w-6, true)
		}
		if f.sel > 0 {
			c.icon(w-5, contentY, iconUp, true)
		}
		if f.sel+listRows < len(lines) {
			c.icon(w-5, contentY+(listRows-1)*rowH, iconDown, true)
		}
		return
	}
	n := u.listLen(f.p)
	if n == 0 {
		msg := "Empty"
		c.text((w-TextWidth(msg))/2, contentY+rowH, msg, w, true)
		return
	}
	for i := f.top; i < n && i < f.top+listRows; i++ {
		y := contentY + (i-f.top)*rowH
		on := true
		if i == f.sel {
			c.fill(image.Rect(0, y-1, w-6, y+LineHeight), true)
			on = false
		}
		u.pageRow(c, f, i, y, w-7, on)
	}
	if f.top > 0 {
		c.icon(w-5, contentY, iconUp, true)
	}
	if f.top+listRows < n {
		c.icon(w-5, contentY+(listRows-1)*rowH, iconDown, true)
	}
}

// pageRow draws row i of a list page in [1, right).
func (u *UI) pageRow(c *canvas, f *frame, i, y, right int, on bool) {
	scroll := func(s string, room int) int {
		if i == f.sel {
			return u.marquee(s, room)
		}
		return -1
	}
	switch f.p {
	case pageMenu:
		p := menuItems[i]
		x := c.text(1, y, strconv.Itoa(i+1), right, on) + 4
		c.fitText(x, y, pageTitles[p], right, -1, on)
	case pageHistory:
		e := u.v.History[i]
		icon := iconOut
		switch e.Kind {
		case "received":
			icon = iconIn
		case "missed", "rejected":
			icon = iconMissed
		case "forwarded":
			icon = iconFwd
		}
		x := c.icon(1, y, icon, on) + 1
		who := e.Name
		if who == "" {
			who = e.Number
		}
		when := ""
		if !e.At.IsZero() {
			if e.At.YearDay() == u.v.Now.YearDay() && e.At.Year() == u.v.Now.Year() {
				when = e.At.Format("15:04")
			} else {
				when = e.At.Format("2 Jan")
			}
		}
		r := right - TextWidth(when)
		c.text(r, y, when, right, on)
		c.fitText(x, y, who, r-5, scroll(who, r-5-x), on)
	case pagePhonebook, pageSpeedDial:
		list := u.v.Contacts
		if f.p == pageSpeedDial {
			list = u.v.SpeedDial
		}
		e := list[i]
		x := 1
		if e.Key != 0 {
			x = c.text(x, y, string(e.Key), right, on) + 4
		}
		who := e.Name
		if who == "" {
			who = e.Number
		}
		c.fitText(x, y, who, right, scroll(who, right-x), on)
	case pageLines:
		l := u.v.Lines[i]
		x := c.icon(1, y, regIcon(l.Reg), on) + 1
		state := regText(l)
		if l.DND {
			state = "DND"
		}
		r := right - TextWidth(state)
		c.text(r, y, state, right, on)
		c.fitText(x, y, strconv.Itoa(i+1)+" "+l.Label, r-3, -1, on)
	case pageAudio:
		switch i {
		case 0:
			x := c.text(1, y, "Volume", right, on) + 4
			bar := right - x - 1
			c.fill(image.Rect(x, y+2, x+bar, y+7), on)
			c.fill(image.Rect(x+1, y+3, x+bar-1, y+6), !on)
			c.fill(image.Rect(x+1, y+3, x+1+(bar-2)*min(100, max(0, u.v.Volume))/100, y+6), on)
		case 1:
			v := "off"
			if u.v.Muted {
				v = "on"
			}
			c.text(1, y, "Mute", right, on)
			c.text(right-TextWidth(v), y, v, right, on)
		case 2:
			v := u.v.Route
			if v == "" {
				v = "-"
			}
			c.text(1, y, "Route", right, on)
			c.text(right-TextWidth(v), y, v, right, on)
		}
	}
}

func regText(l Line) string {
	switch l.Reg {
	case RegRegistered:
		return "OK"
	case RegRegistering:
		return "..."
	case RegFailed:
		return "Failed"
	}
	return "Direct"
}

// textLines returns a text page's lines: label/value items, then for
// the NAT report its advice, word-wrapped to the panel.
func (u *UI) textLines(p page) []string {
	var items []Item
	switch p {
	case pageNetwork:
		items = u.v.Network
		for i, l := range u.v.Lines {
			st := regText(l)
			if l.Reg == RegFailed && l.Reason != "" {
				st += ": " + l.Reason
			}
			items = append(items[:len(items):len(items)], Item{"Line " + strconv.Itoa(i+1), st})
		}
	case pageNAT:
		items = u.v.NAT
	case pageAbout:
		items = []Item{{"Version", u.v.Version}, {"Board", u.v.Board}}
	}
	var out []string
	for _, it := range items {
		s := it.Value
		if it.Label != "" {
			s = it.Label + ": " + it.Value
		}
		out = append(out, wrap(s, Width-6)...)
	}
	if p == pageNAT && u.v.NATAdvice != "" {
		out = append(out, wrap(u.v.NATAdvice, Width-6)...)
	}
	if len(out) == 0 {
		out = []string{"No information yet"}
	}
	return out
}

// wrap breaks s into lines no wider than w pixels, at white space where
// it can and inside a word that is wider than a line by itself. It runs
// in time linear in len(s).
func wrap(s string, w int) []string {
	var out []string
	line, lineW := "", 0
	space := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
	for {
		i := 0
		for i < len(s) && space(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !space(s[j]) {
			j++
		}
		word := s[i:j]
		s = s[j:]
		if word == "" {
			break
		}
		ww := TextWidth(word)
		// Joining adds the space's width and the gaps on either side.
		if join := spaceWidth + 1; line != "" && lineW+join+ww <= w {
			line, lineW = line+" "+word, lineW+join+ww
			continue
		}
		if line != "" {
			out = append(out, line)
		}
		// A word wider than a line is cut between runes.
		for ww > w {
			k, kw := 0, 0
			for k < len(word) {
				_, size := utf8.DecodeRuneInString(word[k:])
				rw := TextWidth(word[k : k+size])
				add := rw
				if kw > 0 && rw > 0 {
					add++
				}
				if k > 0 && kw+add > w {
					break
				}
				k, kw = k+size, kw+add
			}
			// Prefer to break after a hyphen.
			if h := strings.LastIndexByte(word[:k], '-'); h > 0 && h+1 < k {
				k = h + 1
			}
			out = append(out, word[:k])
			word = word[k:]
			ww = TextWidth(word)
		}
		line, lineW = word, ww
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// renderLamps draws the busy lamps in one row at y: each an icon for the
// colleague's state and the key's label, cut to its share of the width.
func (u *UI) renderLamps(c *canvas, y, w int) {
	n := len(u.v.Lamps)
	slot := w / n
	for i, l := range u.v.Lamps {
		x := i * slot
		icon := iconLampUnk
		switch l.State {
		case LampIdle:
			icon = iconLampOff
		case LampRinging:
			icon = iconLampRng
		case LampBusy:
			icon = iconLampOn
		}
		x = c.icon(x, y, icon, true)
		c.fitText(x, y, l.Label, (i+1)*slot-2, -1, true)
	}
}
