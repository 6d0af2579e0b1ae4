// Package keypad scans a matrix keypad wired to GPIO pins.
//
// Rows are outputs, columns inputs with pull-ups. One row at a time is
// driven low while the others float (high impedance, so that two keys
// pressed in one column never short a driven-high row to a driven-low
// one); a pressed key pulls its column low:
//
//	        col0   col1   col2   col3     (inputs, pulled up)
//	row0 ----+------+------+------+
//	row1 ----+------+------+------+       one row driven low at a time,
//	row2 ----+------+------+------+       the others floating
//	row3 ----+------+------+------+
//	row4 ----+------+------+------+
//
// Each key is debounced on its own: a change is accepted once the contact
// has read the same for Opts.Debounce, and the event carries the time the
// contact settled. Without a diode per key, three keys pressed at the
// corners of a rectangle make the fourth corner read pressed too
// ("ghosting"). The scanner finds every rectangle in the raw matrix (two
// rows sharing two or more columns) and freezes the keys on it: keys
// already down stay down, a new press there is not reported until the
// ambiguity clears. Function keys can report a long press
// (hal.KeyEvent.Long) and auto-repeat (hal.KeyEvent.Repeat).
//
// Scanner does one scan per call and is driven by the caller's clock;
// Matrix runs a Scanner in its own goroutine. Where the columns have edge
// detection (gpio.PinIn.WaitForEdge), Matrix scans only while a key is
// down: with every key up it drives all the rows Low and waits for a
// falling edge on a column, so an idle keypad wakes nothing (idle.go says
// how Close ends the waits). Elsewhere, or with Opts.NoEdges, it scans
// every Opts.ScanInterval.
package keypad
