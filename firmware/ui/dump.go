package ui

import (
	"image"
	"strings"
)

// Dump returns a frame as text, '#' for a lit pixel and '.' for a dark
// one, a line per row (for test failures and logs).
func Dump(img *image.Paletted) string {
	var b strings.Builder
	r := img.Rect
	b.Grow((r.Dx() + 1) * r.Dy())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.ColorIndexAt(x, y) != 0 {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
