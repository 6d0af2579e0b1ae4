package hal

import "image"

// Display is a small graphic panel: the phone's screen. The UI renders a
// whole frame and hands it to Draw; the driver converts it to the panel's
// format (a monochrome panel lights the pixels whose colour is closer to
// white than to black) and sends only what changed where the panel allows.
type Display interface {
	// Bounds is the panel's size in pixels; Min is (0, 0).
	Bounds() image.Rectangle
	// Draw shows img, whose bounds should equal Bounds (other sizes are
	// clipped or padded). It returns once the frame is on the panel.
	Draw(img image.Image) error
	// SetBrightness sets the backlight or contrast, 0 (off: the panel is
	// dark but keeps its frame) to 100 (full).
	SetBrightness(level int) error
	Close() error
}
