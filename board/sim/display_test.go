package sim

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"testing"
)

func TestDisplayTerminal(t *testing.T) {
	var term bytes.Buffer
	d := NewDisplay(ScreenWidth, ScreenHeight, &term)
	img := image.NewGray(image.Rect(0, 0, ScreenWidth, ScreenHeight))
	img.SetGray(0, 0, color.Gray{255})
	img.SetGray(3, 7, color.Gray{200})
	img.SetGray(5, 5, color.Gray{100}) // closer to black: dark
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if !d.Lit(0, 0) || !d.Lit(3, 7) || d.Lit(5, 5) || d.Lit(-1, 0) {
		t.Fatal("pixels not kept as drawn")
	}
	rows := d.Text()
	if len(rows) != 16 || len([]rune(rows[0])) != 64 {
		t.Fatalf("text is %d rows of %d cells, want 16 of 64", len(rows), len([]rune(rows[0])))
	}
	// (0,0) is dot 1 of row 0's cell 0; (3,7) is dot 8 of row 1's cell 1.
	if r := []rune(rows[0]); r[0] != 0x2801 || r[1] != 0x2800 {
		t.Fatalf("row 0 begins %U %U", r[0], r[1])
	}
	if r := []rune(rows[1]); r[0] != 0x2800 || r[1] != 0x2880 {
		t.Fatalf("row 1 begins %U %U", r[0], r[1])
	}
	out := term.String()
	for _, want := range []string{"\x1b[2J", "\x1b[19;r", "\x1b7\x1b[1;1H", "┌", "┘", "\x1b8", rows[0]} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	// Later frames redraw in place without clearing again.
	term.Reset()
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if s := term.String(); strings.Contains(s, "\x1b[2J") || !strings.HasPrefix(s, "\x1b7\x1b[1;1H") {
		t.Errorf("second frame: %q", s[:min(len(s), 40)])
	}
	if err := d.SetBrightness(0); err != nil {
		t.Fatal(err)
	}
	if r := []rune(d.Text()[0]); r[0] != 0x2800 {
		t.Error("a dark panel still shows the frame")
	}
	if err := d.SetBrightness(101); err == nil {
		t.Error("brightness 101 accepted")
	}
	term.Reset()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if term.String() != "\x1b7\x1b[r\x1b8" {
		t.Errorf("Close wrote %q, want the scroll region reset", term.String())
	}
	if err := d.Draw(img); err == nil {
		t.Error("Draw after Close succeeded")
	}
}

// TestOpenScreenStaysOffNonTerminals: a board opened without a terminal
// (tests, a service) writes no escapes anywhere, but has a display.
func TestOpenScreenStaysOffNonTerminals(t *testing.T) {
	b, err := Open(Options{Keys: strings.NewReader("")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d, ok := b.Display.(*Display)
	if !ok {
		t.Fatalf("display %T", b.Display)
	}
	if d.out != nil {
		t.Fatal("the screen goes to standard output, which is not a terminal here")
	}
	if got := b.Display.Bounds(); got != image.Rect(0, 0, 128, 64) {
		t.Fatalf("bounds %v", got)
	}
}
