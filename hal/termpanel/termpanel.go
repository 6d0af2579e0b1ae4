package termpanel

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// ErrClosed is the answer of a closed panel.
var ErrClosed = errors.New("termpanel: closed")

// Opts configure a Panel.
type Opts struct {
	// Term is a terminal (ANSI) to draw in place; nil: none.
	Term io.Writer
	// WriteTimeout bounds one frame's write to a client (default 2 s);
	// a client that takes longer is dropped.
	WriteTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Panel is a text screen. It implements hal.Display.
type Panel struct {
	w, h int
	o    Opts
	log  *slog.Logger

	mu         sync.Mutex // guards following
	lit        []bool     // last frame, row-major
	brightness int
	seq        uint64 // frame number, for clients
	started    bool   // the terminal has been set up
	closed     bool
	buf        bytes.Buffer
	lns        []net.Listener
	conns      map[net.Conn]struct{}
	wake       *sync.Cond // clients wait here for a new frame or Close

	wg sync.WaitGroup // accept loops and client writers
}

// New returns a w×h panel. A nil o means no terminal.
func New(w, h int, o *Opts) *Panel {
	p := &Panel{w: w, h: h, lit: make([]bool, w*h), brightness: 100, conns: map[net.Conn]struct{}{}}
	if o != nil {
		p.o = *o
	}
	if p.o.WriteTimeout <= 0 {
		p.o.WriteTimeout = 2 * time.Second
	}
	p.log = p.o.Logger
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "termpanel")
	p.wake = sync.NewCond(&p.mu)
	return p
}

// Bounds is the panel's size.
func (p *Panel) Bounds() image.Rectangle { return image.Rect(0, 0, p.w, p.h) }

// Draw takes a frame: a pixel is lit when it is closer to white.
func (p *Panel) Draw(img image.Image) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	b := img.Bounds()
	pal, _ := img.(*image.Paletted)
	for y := range p.h {
		for x := range p.w {
			on := false
			if pt := (image.Point{b.Min.X + x, b.Min.Y + y}); pt.In(b) {
				var r, g, bl uint32
				if pal != nil {
					if i := int(pal.ColorIndexAt(pt.X, pt.Y)); i < len(pal.Palette) {
						r, g, bl, _ = pal.Palette[i].RGBA()
					}
				} else {
					r, g, bl, _ = img.At(pt.X, pt.Y).RGBA()
				}
				on = (r+g+bl)/3 >= 0x8000
			}
			p.lit[y*p.w+x] = on
		}
	}
	return p.changedLocked()
}

// SetBrightness 0 shows the panel dark; anything else lit.
func (p *Panel) SetBrightness(level int) error {
	if level < 0 || level > 100 {
		return fmt.Errorf("termpanel: brightness %d out of 0..100", level)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.brightness = level
	return p.changedLocked()
}

// changedLocked shows the new frame on the terminal and wakes the
// clients.
func (p *Panel) changedLocked() error {
	p.seq++
	p.wake.Broadcast()
	return p.paintLocked()
}

// Lit reports whether pixel (x, y) of the last frame is lit.
func (p *Panel) Lit(x, y int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x < 0 || y < 0 || x >= p.w || y >= p.h {
		return false
	}
	return p.lit[y*p.w+x]
}

// Text returns the last frame in Braille, one string per text row
// (without the box).
func (p *Panel) Text() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.textLocked()
}

// Braille dot bits for the pixel at (dx, dy) inside a 2×4 cell.
var brailleDot = [4][2]rune{{0x01, 0x08}, {0x02, 0x10}, {0x04, 0x20}, {0x40, 0x80}}

func (p *Panel) textLocked() []string {
	rows := (p.h + 3) / 4
	cols := (p.w + 1) / 2
	out := make([]string, rows)
	line := make([]rune, cols)
	for ty := range rows {
		for tx := range cols {
			r := rune(0x2800)
			for dy := range 4 {
				for dx := range 2 {
					x, y := tx*2+dx, ty*4+dy
					if x < p.w && y < p.h && p.lit[y*p.w+x] && p.brightness > 0 {
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

// boxed writes rows in a box, each line ending with "erase to the end of
// the line" and CR LF but the last.
func boxed(b *bytes.Buffer, rows []string) {
	border := strings.Repeat("─", len([]rune(rows[0])))
	fmt.Fprintf(b, "┌%s┐\x1b[K\r\n", border)
	for _, r := range rows {
		fmt.Fprintf(b, "│%s│\x1b[K\r\n", r)
	}
	fmt.Fprintf(b, "└%s┘\x1b[K", border)
}

// paintLocked redraws the terminal copy: the first time it clears the
// terminal and keeps the rows under the panel for scrolling output.
func (p *Panel) paintLocked() error {
	if p.o.Term == nil {
		return nil
	}
	rows := p.textLocked()
	p.buf.Reset()
	if !p.started {
		p.started = true
		// Clear; scroll only below the panel (DECSTBM); cursor there.
		fmt.Fprintf(&p.buf, "\x1b[2J\x1b[%d;r\x1b[%d;1H", len(rows)+3, len(rows)+3)
	}
	p.buf.WriteString("\x1b7\x1b[1;1H") // save the cursor, go home
	boxed(&p.buf, rows)
	p.buf.WriteString("\x1b8") // back where the logs are
	_, err := p.o.Term.Write(p.buf.Bytes())
	return err
}

// Serve accepts clients on ln in a new goroutine until Close, which
// closes ln. Each client gets the current frame and every later one.
func (p *Panel) Serve(ln net.Listener) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.lns = append(p.lns, ln)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Close
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.Close()
				return
			}
			p.conns[c] = struct{}{}
			p.wg.Add(1)
			p.mu.Unlock()
			go func() {
				defer p.wg.Done()
				p.client(c)
			}()
		}
	}()
	return nil
}

// client writes frames to c until it fails or the panel closes.
func (p *Panel) client(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		c.Close()
	}()
	var sent uint64
	var b bytes.Buffer
	for first := true; ; first = false {
		p.mu.Lock()
		for !p.closed && !first && sent == p.seq {
			p.wake.Wait()
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		sent = p.seq
		rows := p.textLocked()
		p.mu.Unlock()
		b.Reset()
		b.WriteString("\x1b[H\x1b[2J") // home, clear
		boxed(&b, rows)
		b.WriteString("\r\n")
		_ = c.SetWriteDeadline(time.Now().Add(p.o.WriteTimeout))
		if _, err := c.Write(b.Bytes()); err != nil {
			p.log.Info("screen client dropped", "raddr", c.RemoteAddr().String(), "err", err)
			return
		}
	}
}

// Close gives the terminal back its whole height, stops serving and
// waits for the client writers. It is idempotent.
func (p *Panel) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.wake.Broadcast()
	var err error
	if p.o.Term != nil && p.started {
		_, err = io.WriteString(p.o.Term, "\x1b7\x1b[r\x1b8")
	}
	for _, ln := range p.lns {
		ln.Close()
	}
	for c := range p.conns {
		c.Close() // unblocks a writer stuck in Write
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
