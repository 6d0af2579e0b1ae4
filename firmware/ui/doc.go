// Package ui is the phone's screen: what a person at the desk sees on the
// 128×64 monochrome panel, and how the navigation and soft keys move
// through it. It knows nothing of the phone: the daemon converts the
// phone's status, the registrations and the NAT report into a View, and
// maps the Actions the UI returns (answer call X, dial Y, set DND, ...)
// onto the phone's methods. It imports only hal and the standard library.
//
// Screens, chosen from the View and the open menu:
//
//   - idle: the clock (large), the date, then the first of: registration
//     or NAT trouble (inverted, scrolling), missed calls, voicemail, DND,
//     forwarding. Soft keys History, Contacts, DND, Menu.
//   - dialling: the digits typed so far. Send, Cancel.
//   - one call: its state and talk time, the caller's name (scrolling
//     when too long) and number, a lock for a secure call, the codec, and
//     hold, conference and mute marks. Soft keys by state: Answer/Reject,
//     Hold/Transfer/Mute/End, Resume/Transfer/End.
//   - several calls: a list; Up and Down pick one, OK answers or resumes
//     it; Swap, Transfer (attended), Conf, End.
//   - menus (Menu key; digits 1–9 are shortcuts): call history,
//     phonebook, speed dial (OK dials the entry), network status, NAT
//     report with advice, line status (OK toggles DND), audio (Left/Right
//     change the volume), about, and factory reset behind a confirmation.
//     History and Contacts open their pages directly; Back leaves a page.
//
// A call that starts ringing closes any open menu. Keys the UI has no use
// for where it is (dial keys outside menus, hook, speaker, hold, ...)
// are not handled: Screen passes them on to the phone.
//
// Text is drawn in a 5×8 bitmap font (font_data.go) with a 9-pixel line:
// ASCII and Latin-1 (accented letters are composed from the base letter
// and an accent), the euro sign and a few icons. Other runes degrade to
// something readable: Latin letters with other accents lose them (ł→l,
// ệ→e), typographic quotes and dashes become ASCII, combining marks and
// zero-width characters vanish, anything else is '?'. Text too long for
// its place is cut with an ellipsis, or scrolls as a marquee where it is
// the thing one reads (the caller's name, the selected row, the trouble
// line).
//
// Screen runs a UI against a hal.Display: it renders on every change (a
// key, a signal on ScreenConfig.Changed or, without one, a 40 ms re-read
// of the view, a clock tick when the time shown changes, a marquee
// tick), sends a frame to the panel only when it differs from the last,
// keeps the last frame for GET /api/screen.png (with no panel it renders
// nothing until that asks), and dims the panel after ScreenConfig.DimAfter without
// a key or a call. It splits the keypad: the keys the UI takes stay, the
// others go on to the phone through Screen.Keypad. Keys pressed through
// the API go through Screen.Press, which says whether the UI took them;
// their actions are marked Remote. One goroutine, stopped by Close.
//
// Frames are *image.Paletted with Palette (index 0 dark, 1 lit); PNGs of
// them are one bit deep. The golden screens are in testdata/golden
// (go test -update rewrites them).
package ui
