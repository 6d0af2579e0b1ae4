package ui

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/deskphone/phone/hal"
)

// FuzzText lays out arbitrary bytes as a caller name, a trouble line and
// a wrapped paragraph: no panic, nothing drawn outside its place, lines
// within the width, and Readable yields only runes the font has.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "Alice", "Zoë Ångström", "山田 太郎", "\xff\xfe", "e\u0301", "a\u200bb",
		strings.Repeat("W", 60), "Łukasz–“x”…", "\uE100\U0010FFFF", "\t\n\r", "€ £ ¥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if TextWidth(s) < 0 {
			t.Fatal("negative width")
		}
		r := Readable(s)
		if !utf8.ValidString(r) {
			t.Fatalf("Readable(%q) = %q is not UTF-8", s, r)
		}
		for _, c := range r {
			if g, f, skip := lookup(c); f != "" || skip || (g == fallback && c != '?') {
				t.Fatalf("Readable(%q) kept %q, which the font lacks", s, c)
			}
		}
		for _, l := range wrap(s, Width-6) {
			if TextWidth(l) > Width-6 && utf8.RuneCountInString(l) > 1 {
				t.Fatalf("wrapped line %q is %d px", l, TextWidth(l))
			}
		}
		// A name in every place it can be drawn; the rows above and below
		// its own stay as the same screen with a plain name draws them.
		call := Call{ID: "x", Name: s, Number: s, State: CallIncoming}
		img := NewFrame()
		u := withView(View{Now: now, Calls: []Call{call}, Trouble: s, History: []HistoryEntry{{Name: s}}})
		u.Render(img)
		for range 50 {
			u.Tick()
		}
		u.Render(img)
		plain := NewFrame()
		call.Name, call.Number = "", ""
		withView(View{Now: now, Calls: []Call{call}}).Render(plain)
		for y := 0; y < contentY+rowH; y++ { // status bar and state row
			for x := 0; x < Width; x++ {
				if img.ColorIndexAt(x, y) != plain.ColorIndexAt(x, y) {
					t.Fatalf("name %q drew at (%d,%d), outside its row", s, x, y)
				}
			}
		}
		u = withView(View{Now: now, Trouble: s})
		u.Render(img)
		u = withView(View{Now: now, History: []HistoryEntry{{Name: s, Number: s}}, NATAdvice: s})
		u.Key(hal.KeyEvent{Key: hal.KeyHistory, Down: true})
		u.Render(img)
	})
}

func BenchmarkRenderIdle(b *testing.B) {
	benchRender(b, View{Now: now, Lines: oneLine(), MissedCalls: 2})
}

func BenchmarkRenderCall(b *testing.B) {
	c := talking
	c.Secure = true
	benchRender(b, View{Now: now, Lines: oneLine(), Calls: []Call{c}})
}

func BenchmarkRenderCalls(b *testing.B) {
	h := talking
	h.ID, h.State, h.Active = "c0", CallHeld, false
	benchRender(b, View{Now: now, Lines: oneLine(), Calls: []Call{h, talking, ringing}})
}

func benchRender(b *testing.B, v View) {
	u := withView(v)
	img := NewFrame()
	b.ReportAllocs()
	for b.Loop() {
		u.SetView(v)
		u.Render(img)
	}
}
