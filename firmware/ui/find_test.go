package ui

import (
	"testing"
	"time"
)

// TestShows: the registered idle screen shows its line icon and the
// clock; a failed line's icon is not found in it, nor a text it lacks.
func TestShows(t *testing.T) {
	u := New()
	now := time.Date(2026, 12, 4, 9, 41, 0, 0, time.UTC)
	u.SetView(View{Now: now, Lines: []Line{{Label: "2001", Reg: RegRegistered}}})
	f := NewFrame()
	u.Render(f)
	if !Shows(f, string(IconRegistered)) {
		t.Errorf("registered icon not found in\n%s", Dump(f))
	}
	if Shows(f, string(IconRegFailed)) {
		t.Error("failed icon found on a registered screen")
	}
	if !Shows(f, "Fri 4 Dec 2026") {
		t.Errorf("date not found in\n%s", Dump(f))
	}
	if Shows(f, "Sat 5 Dec 2026") {
		t.Error("a date not shown was found")
	}
	u.SetView(View{Now: now, Lines: []Line{{Label: "2001", Reg: RegFailed}}, Trouble: "Line 1 failed"})
	u.Render(f)
	if !Shows(f, string(IconRegFailed)) || Shows(f, string(IconRegistered)) {
		t.Errorf("failed line: icons wrong in\n%s", Dump(f))
	}
	if !Shows(f, "Line 1 failed") { // inverted trouble row
		t.Errorf("inverted trouble text not found in\n%s", Dump(f))
	}
}
