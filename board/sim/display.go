package sim

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
)

// ErrClosed is the answer of a closed device.
var ErrClosed = errors.New("sim: device closed")

// Display is the sim board's screen. It keeps the last frame (Frame)
// and, when it has a terminal, draws each frame there in Braille
// characters (2×4 pixels each, so 128×64 takes 64×16 cells) inside a
// frame, redrawn in place at the top of the terminal: the lines below it
// become a scrolling region where the logs go on.
type Display struct {
	mu         sync.Mutex
	w, h       int
	lit        []bool // last frame, row-major
	brightness int
	out        io.Writer // nil: no terminal
	started    bool
	closed     bool
	buf        bytes.Buffer
}

// NewDisplay returns a w×h display; out, when not nil, is a terminal
// that understands ANSI escapes.
func NewDisplay(w, h int, out io.Writer) *Display {
	return &Display{w: w, h: h, lit: make([]bool, w*h), brightness: 100, out: out}
}

func (d *Display) Bounds() image.Rectangle { return image.Rect(0, 0, d.w, d.h) }

// Draw takes a frame: a pixel is lit when it is closer to white.
func (d *Display) Draw(img image.Image) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	b := img.Bounds()
	for y := range d.h {
		for x := range d.w {
			on := false
			if p := (image.Point{b.Min.X + x, b.Min.Y + y}); p.In(b) {
				r, g, bl, _ := img.At(p.X, p.Y).RGBA()
				on = (r+g+bl)/3 >= 0x8000
			}
			d.lit[y*d.w+x] = on
		}
	}
	return d.paintLocked()
}

// SetBrightness 0 shows the panel dark; anything else lit.
func (d *Display) SetBrightness(level int) error {
	if level < 0 || level > 100 {
		return fmt.Errorf("%w: brightness %d (0 to 100)", ErrBadOption, level)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.brightness = level
	return d.paintLocked()
}

// Lit reports whether pixel (x, y) of the last frame is lit.
func (d *Display) Lit(x, y int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if x < 0 || y < 0 || x >= d.w || y >= d.h {
		return false
	}
	return d.lit[y*d.w+x]
}

// Text returns the last frame in Braille, one string per text row, as
// the terminal shows it (without the border).
func (d *Display) Text() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.textLocked()
}

// Braille dot bits for the pixel at (dx, dy) inside a 2×4 cell.
var brailleDot = [4][2]rune{{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}

func (d *Display) textLocked() []string {
	rows := (d.h + 3) / 4
	cols := (d.w + 1) / 2
	out := make([]string, rows)
	line := make([]rune, cols)
	for ty := range rows {
		for tx := range cols {
			r := rune(0x2800)
			for dy := range 4 {
				for dx := range 2 {
					x, y := tx*2+dx, ty*4+dy
					if x < d.w && y < d.h && d.lit[y*d.w+x] && d.brightness > 0 {
						r |= brailleDot[dy][dx]
					}
				}
			}
			line[tx] = r
		}
		out[ty] = string(line)
	}
	return out
}

// paintLocked redraws the terminal copy: the first time it clears the
// terminal and keeps the rows under the panel for scrolling output.
func (d *Display) paintLocked() error {
	if d.out == nil {
		return nil
	}
	rows := d.textLocked()
	d.buf.Reset()
	if !d.started {
		d.started = true
		// Clear; scroll only below the panel (DECSTBM); cursor there.
		fmt.Fprintf(&d.buf, "\x1b[2J\x1b[%d;r\x1b[%d;1H", len(rows)+3, len(rows)+3)
	}
	d.buf.WriteString("\x1b7\x1b[1;1H") // save the cursor, go home
	border := make([]rune, len([]rune(rows[0])))
	for i := range border {
		border[i] = '─'
	}
	fmt.Fprintf(&d.buf, "┌%s┐\x1b[K\r\n", string(border))
	for _, r := range rows {
		fmt.Fprintf(&d.buf, "│%s│\x1b[K\r\n", r)
	}
	fmt.Fprintf(&d.buf, "└%s┘\x1b[K", string(border))
	d.buf.WriteString("\x1b8") // back where the logs are
	_, err := d.out.Write(d.buf.Bytes())
	return err
}

// Close gives the terminal back its whole height.
func (d *Display) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.out != nil && d.started {
		_, err := io.WriteString(d.out, "\x1b7\x1b[r\x1b8")
		return err
	}
	return nil
}
