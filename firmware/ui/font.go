package ui

import (
	"fmt"
	"image"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Font metrics: every glyph is at most 5 pixels wide and a text line is
// LineHeight pixels high (an accent row, seven rows for capitals, one for
// descenders).
const (
	LineHeight = 9
	glyphRows  = 8 // rows in glyphArt; cell row = art row + 1
	spaceWidth = 3
)

// glyph is one character's bitmap: rows[y] holds the cell row y, bit 4 the
// leftmost pixel; w is the ink width (the advance is w+1).
type glyph struct {
	rows [LineHeight]uint8
	w    uint8
	ok   bool
}

var (
	latin1 [256]glyph      // ASCII and Latin-1
	extra  map[rune]*glyph // icons, the euro sign, the ellipsis
	// fallback is drawn for a rune nothing else covers.
	fallback *glyph
)

func init() {
	extra = map[rune]*glyph{}
	parseArt(glyphArt, func(s string) rune {
		if s == "SP" {
			return ' '
		}
		r, n := utf8.DecodeRuneInString(s)
		if n != len(s) {
			panic("ui: glyph key " + s)
		}
		return r
	})
	parseArt(iconArt, func(s string) rune {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			panic("ui: icon key " + s)
		}
		return rune(v)
	})
	for r, c := range composed {
		g := compose(latin1[c.base], c.accent, c.base >= 'A' && c.base <= 'Z')
		g.ok = true
		latin1[r] = g
	}
	fallback = &latin1['?']
}

// parseArt fills the tables from art lines.
func parseArt(art string, key func(string) rune) {
	for line := range strings.Lines(art) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != glyphRows+1 {
			panic(fmt.Sprintf("ui: glyph %q has %d rows", f[0], len(f)-1))
		}
		var g glyph
		for y, row := range f[1:] {
			if len(row) != 5 {
				panic(fmt.Sprintf("ui: glyph %q row %d is %q", f[0], y, row))
			}
			for x := range 5 {
				if row[x] == '#' {
					g.rows[y+1] |= 0x10 >> x
				}
			}
		}
		r := key(f[0])
		g = trim(g)
		if r == ' ' {
			g.w = spaceWidth - 1
		}
		if r >= '0' && r <= '9' {
			g = untrimmed(f[1:]) // tabular digits: a counting clock does not jitter
		}
		g.ok = true
		if r < 256 {
			latin1[r] = g
		} else {
			gg := g
			extra[r] = &gg
		}
	}
}

func untrimmed(rows []string) glyph {
	var g glyph
	for y, row := range rows {
		for x := range 5 {
			if row[x] == '#' {
				g.rows[y+1] |= 0x10 >> x
			}
		}
	}
	g.w = 5
	return g
}

// trim shifts the ink to the left edge and sets the width.
func trim(g glyph) glyph {
	var or uint8
	for _, r := range g.rows {
		or |= r
	}
	if or == 0 {
		g.w = 0
		return g
	}
	left := 0
	for or&(0x10>>left) == 0 {
		left++
	}
	right := 4
	for or&(0x10>>right) == 0 {
		right--
	}
	for i := range g.rows {
		g.rows[i] = (g.rows[i] << left) & 0x1F
	}
	g.w = uint8(right - left + 1)
	return g
}

// Accents, two rows each, five pixels wide.
type accent int

const (
	grave accent = iota
	acute
	circumflex
	tilde
	diaeresis
	ring
	cedilla
)

var accentRows = [...][2]uint8{
	grave:      {0b01000, 0b00100},
	acute:      {0b00010, 0b00100},
	circumflex: {0b00100, 0b01010},
	tilde:      {0b01101, 0b10010},
	diaeresis:  {0b01010, 0b00000},
	ring:       {0b01110, 0b01010},
	cedilla:    {0b00110, 0},
}

type composition struct {
	base   rune
	accent accent
}

// composed lists the Latin-1 letters drawn as a base letter and an accent.
var composed = map[rune]composition{
	'À': {'A', grave}, 'Á': {'A', acute}, 'Â': {'A', circumflex}, 'Ã': {'A', tilde}, 'Ä': {'A', diaeresis}, 'Å': {'A', ring},
	'Ç': {'C', cedilla},
	'È': {'E', grave}, 'É': {'E', acute}, 'Ê': {'E', circumflex}, 'Ë': {'E', diaeresis},
	'Ì': {'I', grave}, 'Í': {'I', acute}, 'Î': {'I', circumflex}, 'Ï': {'I', diaeresis},
	'Ñ': {'N', tilde},
	'Ò': {'O', grave}, 'Ó': {'O', acute}, 'Ô': {'O', circumflex}, 'Õ': {'O', tilde}, 'Ö': {'O', diaeresis},
	'Ù': {'U', grave}, 'Ú': {'U', acute}, 'Û': {'U', circumflex}, 'Ü': {'U', diaeresis},
	'Ý': {'Y', acute},
	'à': {'a', grave}, 'á': {'a', acute}, 'â': {'a', circumflex}, 'ã': {'a', tilde}, 'ä': {'a', diaeresis}, 'å': {'a', ring},
	'ç': {'c', cedilla},
	'è': {'e', grave}, 'é': {'e', acute}, 'ê': {'e', circumflex}, 'ë': {'e', diaeresis},
	'ì': {'i', grave}, 'í': {'i', acute}, 'î': {'i', circumflex}, 'ï': {'i', diaeresis},
	'ñ': {'n', tilde},
	'ò': {'o', grave}, 'ó': {'o', acute}, 'ô': {'o', circumflex}, 'õ': {'o', tilde}, 'ö': {'o', diaeresis},
	'ù': {'u', grave}, 'ú': {'u', acute}, 'û': {'u', circumflex}, 'ü': {'u', diaeresis},
	'ý': {'y', acute}, 'ÿ': {'y', diaeresis},
}

// compose draws base with an accent. A capital has no room above it, so
// it loses one of two equal rows (the letter stays readable at six rows)
// and the accent takes the top two cell rows; a lower-case letter has its
// dot (i) cleared and the accent goes above, a clear row between. The cedilla hangs
// below either.
func compose(base glyph, a accent, capital bool) glyph {
	// Work untrimmed: re-centre the base in the five columns first.
	shift := (5 - int(base.w)) / 2
	var g glyph
	for i, r := range base.rows {
		g.rows[i] = r >> shift
	}
	ar := accentRows[a]
	switch {
	case a == cedilla:
		g.rows[LineHeight-1] |= ar[0]
	case capital:
		letter := g.rows[1:8] // cell rows 1..7: the capital
		drop := 1
		for _, r := range []int{3, 2, 4, 1, 5} {
			if letter[r] == letter[r+1] {
				drop = r
				break
			}
		}
		var six [6]uint8
		n := 0
		for i, r := range letter {
			if i != drop {
				six[n] = r
				n++
			}
		}
		g.rows[0], g.rows[1] = ar[0], ar[1]
		copy(g.rows[2:8], six[:])
	default:
		if a == diaeresis {
			ar = [2]uint8{0, ar[0]}
		}
		// Cell rows 0–1 take the accent and row 2 stays clear (it
		// held the dot of the i), so the accent does not touch the
		// x-height.
		g.rows[0], g.rows[1], g.rows[2] = ar[0], ar[1], 0
	}
	return trim(g)
}

// lookup returns the glyph for r, or the text to draw instead (fold), or
// skip for runes that draw nothing (combining marks, zero-width, controls).
func lookup(r rune) (g *glyph, fold string, skip bool) {
	if r >= 0 && r < 256 && latin1[r].ok {
		return &latin1[r], "", false
	}
	if g := extra[r]; g != nil && (r < 0xE000 || r > 0xF8FF) {
		return g, "", false
	}
	if f, ok := foldTable[r]; ok {
		return nil, f, false
	}
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return &latin1[' '], "", false
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r) || unicode.IsControl(r):
		return nil, "", true
	}
	return fallback, "", false
}

// glyphs iterates over the glyphs that draw s, folding and skipping as
// lookup says, without allocating.
type glyphs struct {
	s    string
	fold string
}

func (it *glyphs) next() (*glyph, bool) {
	for {
		if it.fold != "" {
			r, n := utf8.DecodeRuneInString(it.fold)
			it.fold = it.fold[n:]
			if g, _, _ := lookup(r); g != nil {
				return g, true
			}
			continue
		}
		if it.s == "" {
			return nil, false
		}
		r, n := utf8.DecodeRuneInString(it.s)
		it.s = it.s[n:]
		g, f, skip := lookup(r)
		switch {
		case skip:
			continue
		case g != nil:
			return g, true
		default:
			it.fold = f
		}
	}
}

// iconGlyph returns an icon's glyph (icons are not reachable from text).
func iconGlyph(r rune) *glyph {
	if g := extra[r]; g != nil {
		return g
	}
	return fallback
}

// TextWidth is the width in pixels of s in the font.
func TextWidth(s string) int {
	w := 0
	it := glyphs{s: s}
	for g, ok := it.next(); ok; g, ok = it.next() {
		w += int(g.w) + 1
	}
	if w > 0 {
		w-- // no gap after the last glyph
	}
	return w
}

// Readable returns s as the font shows it, in runes it has glyphs for
// (for the terminal and tests): accents beyond Latin-1 stripped, unknown
// runes '?'.
func Readable(s string) string {
	var b strings.Builder
	for _, r := range s {
		g, f, skip := lookup(r)
		switch {
		case skip:
		case f != "":
			b.WriteString(f)
		case g == fallback && r != '?':
			b.WriteByte('?')
		case g == &latin1[' ']:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// canvas draws on a two-colour paletted image: index 0 dark, 1 lit.
// Coordinates are the image's, less its Rect.Min (origin); clip is in
// those coordinates.
type canvas struct {
	img    *image.Paletted
	origin image.Point
	clip   image.Rectangle
}

// newCanvas returns a canvas over all of img.
func newCanvas(img *image.Paletted) canvas {
	return canvas{img: img, origin: img.Rect.Min, clip: image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy())}
}

func (c *canvas) set(x, y int, on bool) {
	if !(image.Point{x, y}).In(c.clip) {
		return
	}
	i := c.img.PixOffset(x+c.origin.X, y+c.origin.Y)
	if on {
		c.img.Pix[i] = 1
	} else {
		c.img.Pix[i] = 0
	}
}

func (c *canvas) fill(r image.Rectangle, on bool) {
	r = r.Intersect(c.clip)
	var v uint8
	if on {
		v = 1
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		i := c.img.PixOffset(r.Min.X+c.origin.X, y+c.origin.Y)
		row := c.img.Pix[i : i+r.Dx()]
		for j := range row {
			row[j] = v
		}
	}
}

func (c *canvas) hline(x0, x1, y int, on bool) { c.fill(image.Rect(x0, y, x1, y+1), on) }

// drawGlyph draws g with its top-left cell corner at (x, y), lit pixels
// set to on; scale 2 doubles it.
func (c *canvas) drawGlyph(g *glyph, x, y, scale int, on bool) {
	for row, bits := range g.rows {
		if bits == 0 {
			continue
		}
		for col := 0; col < int(g.w); col++ {
			if bits&(0x10>>col) == 0 {
				continue
			}
			if scale == 1 {
				c.set(x+col, y+row, on)
				continue
			}
			c.fill(image.Rect(x+col*scale, y+row*scale, x+(col+1)*scale, y+(row+1)*scale), on)
		}
	}
}

// text draws s from (x, y) and returns the x after it. Nothing is drawn
// beyond maxX.
func (c *canvas) text(x, y int, s string, maxX int, on bool) int {
	return c.textScaled(x, y, s, maxX, 1, on)
}

func (c *canvas) textScaled(x, y int, s string, maxX, scale int, on bool) int {
	saved := c.clip
	c.clip = c.clip.Intersect(image.Rect(x, y, maxX, y+LineHeight*scale))
	it := glyphs{s: s}
	for g, ok := it.next(); ok && x < maxX; g, ok = it.next() {
		c.drawGlyph(g, x, y, scale, on)
		x += (int(g.w) + 1) * scale
	}
	c.clip = saved
	return x
}

// icon draws an icon and returns the x after it.
func (c *canvas) icon(x, y int, r rune, on bool) int {
	g := iconGlyph(r)
	c.drawGlyph(g, x, y, 1, on)
	return x + int(g.w) + 1
}

// fitText draws s in [x, maxX): whole when it fits, else cut with an
// ellipsis, or, when scroll >= 0, as a marquee offset by scroll pixels.
func (c *canvas) fitText(x, y int, s string, maxX, scroll int, on bool) {
	w := TextWidth(s)
	if x+w <= maxX {
		c.text(x, y, s, maxX, on)
		return
	}
	if scroll >= 0 {
		// Marquee: the text, a gap, the text again, sliding left.
		period := w + 12
		off := scroll % period
		saved := c.clip
		c.clip = c.clip.Intersect(image.Rect(x, y, maxX, y+LineHeight))
		c.text(x-off, y, s, maxX, on)
		c.text(x-off+period, y, s, maxX, on)
		c.clip = saved
		return
	}
	ell := extra['…']
	end := maxX - int(ell.w) - 1
	saved := c.clip
	c.clip = c.clip.Intersect(image.Rect(x, y, end, y+LineHeight))
	it := glyphs{s: s}
	cx := x
	for g, ok := it.next(); ok; g, ok = it.next() {
		if cx+int(g.w) > end {
			break
		}
		c.drawGlyph(g, cx, y, 1, on)
		cx += int(g.w) + 1
	}
	c.clip = saved
	c.drawGlyph(ell, cx, y, 1, on)
}
