package ssd1306

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"
)

// Addr is the controller's I²C address.
const Addr = 0x3C

// Opts configure the panel. Zero W and H mean 128×64.
type Opts struct {
	W, H int
	// MirrorVertical and MirrorHorizontal turn the picture for a panel
	// mounted upside down (both: rotated 180°).
	MirrorVertical, MirrorHorizontal bool
	// Sequential is the COM pin layout of some 128×32 panels: try it if
	// every other line is missing.
	Sequential bool
}

// DefaultOpts is the reference 128×64 panel.
var DefaultOpts = Opts{W: 128, H: 64}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("ssd1306: closed")

// Dev is the panel.
type Dev struct {
	mu     sync.Mutex // guards following
	dev    *ssd1306.Dev
	frame  *image1bit.VerticalLSB
	closed bool
	// lit caches, for the last paletted frame's palette, which indices
	// are lit.
	palette color.Palette
	lit     []bool
}

// NewI2C initialises the controller on bus (at Addr) and clears the
// panel. A nil o means DefaultOpts.
func NewI2C(bus i2c.Bus, o *Opts) (*Dev, error) {
	opts := DefaultOpts
	if o != nil {
		opts = *o
	}
	if opts.W == 0 && opts.H == 0 {
		opts.W, opts.H = DefaultOpts.W, DefaultOpts.H
	}
	dev, err := ssd1306.NewI2C(bus, &ssd1306.Opts{
		W: opts.W, H: opts.H, MirrorVertical: opts.MirrorVertical, MirrorHorizontal: opts.MirrorHorizontal,
		Sequential: opts.Sequential,
	})
	if err != nil {
		return nil, fmt.Errorf("ssd1306: init: %w", err)
	}
	d := &Dev{dev: dev, frame: image1bit.NewVerticalLSB(dev.Bounds())}
	// The controller's memory is random at power-up: show a clear panel.
	if err := dev.Draw(d.frame.Rect, d.frame, image.Point{}); err != nil {
		return nil, fmt.Errorf("ssd1306: clear: %w", err)
	}
	return d, nil
}

// Bounds is the panel's size.
func (d *Dev) Bounds() image.Rectangle { return d.frame.Rect }

// Draw shows img: a pixel is lit when its colour is closer to white than
// to black. Only the rectangle of pages and columns that changed since
// the last frame goes over the bus.
func (d *Dev) Draw(img image.Image) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.convertLocked(img)
	if err := d.dev.Draw(d.frame.Rect, d.frame, image.Point{}); err != nil {
		return fmt.Errorf("ssd1306: draw: %w", err)
	}
	return nil
}

// convertLocked renders img into the controller's page layout.
func (d *Dev) convertLocked(img image.Image) {
	clear(d.frame.Pix)
	r := d.frame.Rect.Intersect(img.Bounds())
	if p, ok := img.(*image.Paletted); ok {
		if !samePalette(p.Palette, d.palette) {
			d.palette = append(d.palette[:0], p.Palette...)
			d.lit = d.lit[:0]
			for _, c := range p.Palette {
				d.lit = append(d.lit, bright(c))
			}
		}
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := p.Pix[p.PixOffset(r.Min.X, y):]
			for x := r.Min.X; x < r.Max.X; x++ {
				if i := int(row[x-r.Min.X]); i < len(d.lit) && d.lit[i] {
					d.frame.SetBit(x, y, image1bit.On)
				}
			}
		}
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if bright(img.At(x, y)) {
				d.frame.SetBit(x, y, image1bit.On)
			}
		}
	}
}

func samePalette(a, b color.Palette) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bright reports whether c is closer to white than to black.
func bright(c color.Color) bool {
	y := color.GrayModel.Convert(c).(color.Gray).Y
	_, _, _, a := c.RGBA()
	return y >= 128 && a >= 0x8000
}

// SetBrightness sets the contrast, 1–100; 0 switches the panel off until
// the next frame or brightness.
func (d *Dev) SetBrightness(level int) error {
	if level < 0 || level > 100 {
		return fmt.Errorf("ssd1306: brightness %d out of 0..100", level)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	var err error
	if level == 0 {
		err = d.dev.Halt()
	} else {
		err = d.dev.SetContrast(byte(level * 255 / 100))
	}
	if err != nil {
		return fmt.Errorf("ssd1306: brightness: %w", err)
	}
	return nil
}

// Close switches the panel off. The bus stays open (it is the board's).
func (d *Dev) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if err := d.dev.Halt(); err != nil {
		return fmt.Errorf("ssd1306: off: %w", err)
	}
	return nil
}
