package termpanel

import (
	"bufio"
	"bytes"
	"image"
	"testing"
)

// TestReadFrame: what a client receives decodes back to the frame drawn.
func TestReadFrame(t *testing.T) {
	p := New(8, 8, nil)
	defer p.Close()
	src := gray(image.Pt(0, 0), image.Pt(7, 7), image.Pt(3, 5))
	if err := p.Draw(src); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString("\x1b[H\x1b[2J")
	boxed(&b, p.Text())
	b.WriteString("\r\n")
	img, err := ReadFrame(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	for y := range 8 {
		for x := range 8 {
			if got, want := img.GrayAt(x, y).Y != 0, p.Lit(x, y); got != want {
				t.Errorf("(%d,%d) lit %v, want %v", x, y, got, want)
			}
		}
	}
	if _, err := Decode([]string{"ab"}); err == nil {
		t.Error("non-Braille row decoded")
	}
	if _, err := Decode([]string{"\u2800\u2800", "\u2800"}); err == nil {
		t.Error("ragged rows decoded")
	}
}
