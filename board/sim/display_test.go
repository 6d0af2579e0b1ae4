package sim

import (
	"bytes"
	"image"
	"image/color"
	"os"
	"strings"
	"testing"

	"github.com/deskphone/phone/hal/termpanel"
)

func TestScreenOnTheTerminal(t *testing.T) {
	var term bytes.Buffer
	b, err := Open(Options{Term: &term})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.Display.(*termpanel.Panel); !ok || b.Display.Bounds() != image.Rect(0, 0, 128, 64) {
		t.Fatalf("display %T %v", b.Display, b.Display.Bounds())
	}
	img := image.NewGray(image.Rect(0, 0, 128, 64))
	img.SetGray(0, 0, color.Gray{255})
	if err := b.Display.Draw(img); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(term.String(), "\u2801") {
		t.Errorf("the frame is not on the terminal: %q", term.String())
	}
}

// TestScreenStaysOffNonTerminals: standard output under go test is not a
// terminal, and neither is a pipe: the screen writes no escapes there,
// and with no terminal the board has no panel (nothing ticks for it).
func TestScreenStaysOffNonTerminals(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Fatal("a pipe is taken for a terminal")
	}
	if isTerminal(os.Stdout) {
		t.Skip("standard output is a terminal here")
	}
	b, err := Open(Options{Keys: strings.NewReader("")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Display != nil {
		t.Fatal("a panel with no terminal to draw on")
	}
}
