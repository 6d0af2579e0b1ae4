package ssd1306

import (
	"image"
	"image/color"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// initCmd is the power-up sequence for a 128×64 panel (SSD1306
// datasheet, "Software initialization", and periph's driver): display
// off, offset 0, start line 0, segment remap, COM scan reversed, COM pins
// alternative, contrast max, resume from RAM, normal, clock, charge pump
// on, pre-charge, VCOMH, scroll off, multiplex 64, horizontal addressing,
// columns 0–127, pages 0–7, display on. The leading 0x00 is the I²C
// control byte: commands follow.
var initCmd = []byte{0x00,
	0xAE, 0xD3, 0x00, 0x40, 0xA1, 0xC8, 0xDA, 0x12, 0x81, 0xFF, 0xA4, 0xA6, 0xD5, 0xF0,
	0x8D, 0x14, 0xD9, 0xF1, 0xDB, 0x40, 0x2E, 0xA8, 63, 0x20, 0x00, 0x21, 0, 127, 0x22, 0, 7, 0xAF}

// page is the write of one page (eight pixel rows) from column col: the
// page and column address commands, then the data (control byte 0x40).
func page(n, col int, data []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: Addr, W: []byte{0x00, 0xB0 | byte(n), byte(col & 0x0F), 0x10 | byte(col>>4)}},
		{Addr: Addr, W: append([]byte{0x40}, data...)},
	}
}

func fullFrame(pix func(page int) []byte) []i2ctest.IO {
	var ops []i2ctest.IO
	for p := range 8 {
		ops = append(ops, page(p, 0, pix(p))...)
	}
	return ops
}

func blank(int) []byte { return make([]byte, 128) }

// frame returns a paletted 128×64 frame (index 0 dark, 1 lit) with the
// given pixels lit.
func frame(lit ...image.Point) *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, 128, 64), color.Palette{color.Gray{0}, color.Gray{255}})
	for _, p := range lit {
		img.SetColorIndex(p.X, p.Y, 1)
	}
	return img
}

// TestFrameWrites plays back the bus traffic: initialisation and a clear
// frame, then a frame with one lit pixel (only its page and column go
// out), an unchanged frame (nothing), the pixel moved within the page, the
// brightness, and Close switching the panel off.
func TestFrameWrites(t *testing.T) {
	ops := []i2ctest.IO{{Addr: Addr, W: initCmd}}
	ops = append(ops, fullFrame(blank)...)
	// (10, 20): page 2, column 10, bit 4.
	ops = append(ops, page(2, 10, []byte{1 << 4})...)
	// (10, 20) off, (12, 17) on: page 2, columns 10–12.
	ops = append(ops, page(2, 10, []byte{0, 0, 1 << 1})...)
	ops = append(ops,
		i2ctest.IO{Addr: Addr, W: []byte{0x00, 0x81, 127}}, // contrast 50 %
		i2ctest.IO{Addr: Addr, W: []byte{0x00, 0xAE}},      // brightness 0: off
		// The next frame switches the panel on again (0xAF) first.
		i2ctest.IO{Addr: Addr, W: []byte{0x00, 0xAF, 0xB7, 0x0F, 0x17}},
		i2ctest.IO{Addr: Addr, W: []byte{0x40, 1 << 7}},
	)
	ops = append(ops, i2ctest.IO{Addr: Addr, W: []byte{0x00, 0xAE}}) // Close
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}

	d, err := NewI2C(bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bounds() != image.Rect(0, 0, 128, 64) {
		t.Fatalf("bounds %v", d.Bounds())
	}
	steps := []func() error{
		func() error { return d.Draw(frame(image.Pt(10, 20))) },
		func() error { return d.Draw(frame(image.Pt(10, 20))) }, // no change: no traffic
		func() error { return d.Draw(frame(image.Pt(12, 17))) },
		func() error { return d.SetBrightness(50) },
		func() error { return d.SetBrightness(0) },
		func() error {
			// Not paletted: lit by luminance.
			img := image.NewGray(image.Rect(0, 0, 128, 64))
			img.SetGray(12, 17, color.Gray{255})
			img.SetGray(127, 63, color.Gray{200})
			img.SetGray(0, 0, color.Gray{100}) // closer to black: dark
			return d.Draw(img)
		},
		d.Close,
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(frame()); err != ErrClosed {
		t.Errorf("Draw after Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ops := append([]i2ctest.IO{{Addr: Addr, W: initCmd}}, fullFrame(blank)...)
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := NewI2C(bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []int{-1, 101} {
		if err := d.SetBrightness(l); err == nil {
			t.Errorf("brightness %d accepted", l)
		}
	}
	// A frame larger than the panel is clipped; pixels outside are not
	// sent anywhere (the playback has no more operations: any write fails).
	big := image.NewPaletted(image.Rect(0, 0, 200, 100), color.Palette{color.Gray{0}, color.Gray{255}})
	big.SetColorIndex(150, 80, 1)
	if err := d.Draw(big); err != nil {
		t.Fatalf("clipped frame: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	// A bus that fails during initialisation is an error, not a panic.
	if _, err := NewI2C(&i2ctest.Playback{DontPanic: true}, nil); err == nil {
		t.Fatal("init on a dead bus succeeded")
	}
}
