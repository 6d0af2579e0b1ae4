package ui

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskphone/phone/hal"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/golden")

// now is the fixed clock of every golden screen.
var now = time.Date(2026, 12, 4, 9, 41, 27, 0, time.UTC)

func oneLine() []Line { return []Line{{Label: "1001", Reg: RegRegistered}} }

func press(t *testing.T, u *UI, keys ...hal.Key) Action {
	t.Helper()
	var a Action
	for _, k := range keys {
		a, _ = u.Key(hal.KeyEvent{Key: k, Down: true})
		u.Key(hal.KeyEvent{Key: k})
	}
	return a
}

func withView(v View) *UI {
	u := New()
	u.SetView(v)
	return u
}

var (
	talking = Call{ID: "c1", Name: "Alice Martin", Number: "1002", State: CallTalking, Active: true,
		Since: now.Add(-70 * time.Second), Answered: now.Add(-65 * time.Second), Codec: "G722"}
	ringing = Call{ID: "c2", Name: "Zoë Ångström", Number: "+33 1 23 45 67 89", State: CallIncoming, Since: now}
)

func richView() View {
	return View{
		Now: now, Lines: oneLine(), Version: "1.4.0", Board: "sim", Volume: 60, Route: "speaker",
		History: []HistoryEntry{
			{Kind: "missed", Name: "Zoë Ångström", Number: "2001", At: now.Add(-time.Hour)},
			{Kind: "received", Number: "+44 20 7946 0958", At: now.Add(-26 * time.Hour)},
			{Kind: "placed", Name: "Reception", Number: "100", At: now.Add(-2 * time.Hour), Duration: time.Minute},
			{Kind: "forwarded", Name: "François Lefèvre-Dûchamp de la Montagne", Number: "3003", At: now.Add(-3 * time.Hour)},
			{Kind: "rejected", Name: "Łukasz Żółć", Number: "4004", At: now.Add(-4 * time.Hour)},
		},
		Contacts:  []Contact{{Name: "Alice Martin", Number: "1002"}, {Name: "Bob", Number: "1003"}, {Name: "Çağla Öztürk", Number: "1004"}},
		SpeedDial: []Contact{{Key: '2', Name: "Reception", Number: "100"}, {Key: '3', Name: "Voicemail", Number: "*97"}},
		Network:   []Item{{"Address", "192.168.1.20"}, {"Gateway", "192.168.1.1"}, {"SIP", "udp 203.0.113.7:5060"}},
		NAT:       []Item{{"Type", "symmetric"}, {"Mapping", "address-and-port-dependent"}, {"External", "203.0.113.7:40112"}},
		NATAdvice: "Calls may have no audio: use a TURN server (nat.turn) or port forwarding, and turn off the router's SIP ALG.",
	}
}

// screens are the golden cases: each builds a UI in one state.
var screens = map[string]func(t *testing.T) *UI{
	"idle": func(t *testing.T) *UI { return withView(View{Now: now, Lines: oneLine()}) },
	"idle_trouble": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: []Line{{Label: "1001", Reg: RegFailed, Reason: "403 Forbidden"}},
			Trouble: "Line 1: registration refused (403 Forbidden): check the password"})
	},
	"idle_counters": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), MissedCalls: 3, Voicemail: 2, DND: true})
	},
	"idle_lines": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: []Line{{Label: "1001", Reg: RegRegistered}, {Label: "2001", Reg: RegRegistering},
			{Label: "3001", Reg: RegFailed}, {Label: "direct", Reg: RegNone}}, Voicemail: 120})
	},
	"idle_lamps": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), MissedCalls: 1, Lamps: []Lamp{{"Bob", LampIdle}, {"Reception", LampBusy},
			{"Çağla", LampRinging}, {"1004", LampUnknown}}})
	},
	"dialing": func(t *testing.T) *UI { return withView(View{Now: now, Lines: oneLine(), Dialing: "0612345"}) },
	"offhook": func(t *testing.T) *UI { return withView(View{Now: now, Lines: oneLine(), OffHook: true}) },
	"busy": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), OffHook: true, Notice: "Busy here (486)"})
	},
	"incoming_phonebook": func(t *testing.T) *UI {
		v := richView()
		v.Calls = []Call{{ID: "p", Number: "sip:1004@pbx.local", State: CallIncoming, Since: now}}
		v.Contacts = append(v.Contacts, Contact{Name: "Çağla Öztürk", Number: "10-04"})
		return withView(v)
	},
	"incoming": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{ringing}})
	},
	"incoming_unknown": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{{ID: "x", State: CallIncoming, Number: "anonymous"}}})
	},
	"talking": func(t *testing.T) *UI {
		c := talking
		c.Secure = true
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{c}, Muted: true})
	},
	"held": func(t *testing.T) *UI {
		c := talking
		c.State = CallHeld
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{c}})
	},
	"calling": func(t *testing.T) *UI {
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{{ID: "o", Number: "0612345678", State: CallRingback, Active: true, Since: now}}})
	},
	"calls": func(t *testing.T) *UI {
		h := talking
		h.ID, h.State, h.Active, h.Name, h.Number = "c0", CallHeld, false, "Bob", "1003"
		w := ringing
		w.State = CallWaiting
		return withView(View{Now: now, Lines: oneLine(), Calls: []Call{h, talking, w}})
	},
	"calls_selected_held": func(t *testing.T) *UI {
		h := talking
		h.ID, h.State, h.Active, h.Name = "c0", CallHeld, false, "Bob"
		u := withView(View{Now: now, Lines: oneLine(), Calls: []Call{talking, h}})
		press(t, u, hal.KeyDown)
		return u
	},
	"menu": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu)
		return u
	},
	"menu_scrolled": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, hal.KeyUp)
		return u
	},
	"history": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyHistory, hal.KeyDown)
		return u
	},
	"history_empty": func(t *testing.T) *UI {
		u := withView(View{Now: now})
		press(t, u, hal.KeyHistory)
		return u
	},
	"phonebook": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyContacts)
		return u
	},
	"speeddial": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '3')
		return u
	},
	"network": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '4')
		return u
	},
	"nat": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '5', hal.KeyDown, hal.KeyDown)
		return u
	},
	"lines": func(t *testing.T) *UI {
		v := richView()
		v.Lines = []Line{{Label: "1001", Reg: RegRegistered}, {Label: "office", Reg: RegFailed, DND: true}}
		u := withView(v)
		press(t, u, hal.KeyMenu, '6')
		return u
	},
	"audio": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '7')
		return u
	},
	"about": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '8')
		return u
	},
	"reset": func(t *testing.T) *UI {
		u := withView(richView())
		press(t, u, hal.KeyMenu, '9')
		return u
	},
	"transfer": func(t *testing.T) *UI {
		u := withView(View{Now: now, Lines: oneLine(), Calls: []Call{talking}})
		press(t, u, hal.KeySoft2, '1', '0', '0', '3')
		return u
	},
}

func TestGolden(t *testing.T) {
	for name, build := range screens {
		t.Run(name, func(t *testing.T) {
			img := NewFrame()
			build(t).Render(img)
			checkGolden(t, name, img)
		})
	}
}

// TestFontSpecimen renders every glyph: ASCII, then Latin-1, for review.
func TestFontSpecimen(t *testing.T) {
	var ascii, latin []rune
	for r := rune(0x20); r < 0x7f; r++ {
		ascii = append(ascii, r)
	}
	for r := rune(0xa1); r <= 0xff; r++ {
		latin = append(latin, r)
	}
	for name, rs := range map[string][]rune{"font_ascii": ascii, "font_latin1": latin} {
		img := NewFrame()
		c := newCanvas(img)
		x, y := 0, 0
		for _, r := range rs {
			s := string(r)
			w := TextWidth(s)
			if x+w > Width {
				x, y = 0, y+LineHeight+1
			}
			x = c.text(x, y, s, Width, true) + 1
		}
		checkGolden(t, name, img)
	}
}

func checkGolden(t *testing.T, name string, img *image.Paletted) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".png")
	if *update {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := readGolden(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if d := diffFrames(want, img); d != "" {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s\ngot:\n%s", name, path, d, Dump(img))
	}
}

func readGolden(path string) (*image.Paletted, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img := image.NewPaletted(src.Bounds(), Palette)
	for y := src.Bounds().Min.Y; y < src.Bounds().Max.Y; y++ {
		for x := src.Bounds().Min.X; x < src.Bounds().Max.X; x++ {
			img.SetColorIndex(x, y, uint8(Palette.Index(src.At(x, y))))
		}
	}
	return img, nil
}

// diffFrames describes the pixels that differ, "" when none.
func diffFrames(want, got *image.Paletted) string {
	if want.Rect != got.Rect {
		return fmt.Sprintf("size %v, want %v", got.Rect, want.Rect)
	}
	var b strings.Builder
	n := 0
	for y := want.Rect.Min.Y; y < want.Rect.Max.Y; y++ {
		for x := want.Rect.Min.X; x < want.Rect.Max.X; x++ {
			if want.ColorIndexAt(x, y) != got.ColorIndexAt(x, y) {
				if n < 10 {
					fmt.Fprintf(&b, "pixel (%d,%d) is %d, want %d\n", x, y, got.ColorIndexAt(x, y), want.ColorIndexAt(x, y))
				}
				n++
			}
		}
	}
	if n > 0 {
		fmt.Fprintf(&b, "%d pixels differ", n)
	}
	return b.String()
}

// TestGoldenCatchesOnePixel proves the comparison fails on the smallest
// change: one pixel flipped in a golden screen.
func TestGoldenCatchesOnePixel(t *testing.T) {
	want, err := readGolden(filepath.Join("testdata", "golden", "idle.png"))
	if err != nil {
		t.Fatal(err)
	}
	got := NewFrame()
	screens["idle"](t).Render(got)
	if d := diffFrames(want, got); d != "" {
		t.Fatalf("idle does not match its golden: %s", d)
	}
	got.SetColorIndex(77, 33, 1-got.ColorIndexAt(77, 33))
	if d := diffFrames(want, got); !strings.Contains(d, "pixel (77,33)") || !strings.Contains(d, "1 pixels differ") {
		t.Fatalf("a one-pixel change was not reported: %q", d)
	}
}

// TestOtherSizes: every screen renders into panels smaller and larger
// than the reference without drawing outside them (the canvas clips).
func TestOtherSizes(t *testing.T) {
	for name, build := range screens {
		for _, r := range []image.Rectangle{image.Rect(0, 0, 64, 32), image.Rect(10, 5, 210, 105), image.Rect(0, 0, 1, 1)} {
			img := image.NewPaletted(r, Palette)
			build(t).Render(img)
			// The frame's origin is the image's Rect.Min: the top-left
			// corner of the reference frame is the image's.
			if r.Dx() >= Width && r.Dy() >= Height {
				ref := NewFrame()
				build(t).Render(ref)
				for y := 0; y < contentY; y++ {
					for x := 0; x < 40; x++ {
						if img.ColorIndexAt(r.Min.X+x, r.Min.Y+y) != ref.ColorIndexAt(x, y) {
							t.Fatalf("%s on %v: (%d,%d) differs from the reference frame", name, r, x, y)
						}
					}
				}
			}
		}
	}
}
