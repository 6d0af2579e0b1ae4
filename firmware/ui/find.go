package ui

import (
	"image"
	"image/color"
)

// Icons a test can look for with Shows: the status bar's line state.
const (
	IconRegistered  = iconRegOK   // a line registered
	IconRegFailed   = iconRegFail // a line whose registration failed
	IconRegistering = iconRegWait // a line registering
)

// Shows reports whether frame (any image; a pixel brighter than half is
// lit) holds s drawn in the font at scale 1, lit on dark or dark on lit
// (inverted rows): every pixel of the glyphs' boxes must match, so a
// text does not match inside a bigger one. s is text, or one icon rune
// (IconRegistered...). It is for tests and tools that see a phone's
// screen only from outside: an emulator's screen stream, a photo of a
// panel.
func Shows(frame image.Image, s string) bool {
	w := TextWidth(s)
	r := []rune(s)
	if len(r) == 1 && extra[r[0]] != nil {
		w = int(extra[r[0]].w)
	}
	if w <= 0 {
		return false
	}
	tpl := image.NewPaletted(image.Rect(0, 0, w, LineHeight), Palette)
	c := newCanvas(tpl)
	if len(r) == 1 && extra[r[0]] != nil {
		c.icon(0, 0, r[0], true)
	} else {
		c.text(0, 0, s, w, true)
	}
	b := frame.Bounds()
	lit := func(x, y int) bool {
		g := color.GrayModel.Convert(frame.At(x, y)).(color.Gray)
		return g.Y >= 0x80
	}
	for y := b.Min.Y; y+LineHeight <= b.Max.Y; y++ {
		for x := b.Min.X; x+w <= b.Max.X; x++ {
			for _, inverted := range []bool{false, true} {
				if matches(tpl, x, y, inverted, lit) {
					return true
				}
			}
		}
	}
	return false
}

func matches(tpl *image.Paletted, x0, y0 int, inverted bool, lit func(x, y int) bool) bool {
	r := tpl.Rect
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			if (tpl.ColorIndexAt(x, y) != 0) != inverted != lit(x0+x, y0+y) {
				return false
			}
		}
	}
	return true
}
