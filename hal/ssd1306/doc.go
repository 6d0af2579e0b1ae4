// Package ssd1306 is the phone's screen on a 128×64 monochrome OLED with
// an SSD1306 controller on I²C, as a hal.Display. It wraps periph's
// driver (periph.io/x/devices/v3/ssd1306), which sends only the part of
// the panel's memory that changed between two frames: on a 400 kHz bus a
// full frame is about 26 ms, a changed clock digit or menu row a few.
//
// The controller answers at 0x3C (periph's driver knows no other
// address). Brightness is the controller's contrast; 0 switches the
// panel off (it keeps its memory; the next frame switches it on again).
// Close switches the panel off, so a stopped phone shows nothing stale;
// the bus belongs to the board.
package ssd1306
