// Package wm8960 drives the Wolfson/Cirrus Logic WM8960 stereo codec, the
// audio chip on common Raspberry Pi audio HATs, over I²C.
//
// The WM8960 has a write-only control interface of 9-bit registers at the
// 7-bit I²C address 0x1a. Each write is two bytes: the register address in
// the top seven bits of the first byte, data bit 8 in its lowest bit, and
// data bits 7..0 in the second byte:
//
//	 byte 0                          byte 1
//	+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+
//	| A6  ..  register address  A0 |D8 | D7  ..   data   ..   D0    |
//	+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+---+
//
// Because the chip cannot be read, the driver keeps a cache of every
// register it wrote and derives read-modify-write values from it.
// Register numbers (R0..R55) and bit names in this package follow the
// register map of the WM8960 datasheet (Rev 4.4, "Register Map" and
// "Register Bit Descriptions").
//
// The driver sets up the chip for telephone audio: I²S slave, 16-bit,
// 8 kHz or 16 kHz, the microphone on LINPUT1 through the left input PGA
// and boost mixer to the left ADC (both I²S channels carry the left ADC),
// and the DACs through the output mixers to either the headphone drivers
// (handset and headset) or the class D speaker drivers.
//
// Clocking: SYSCLK must be 12.288 MHz so that the ADC and DAC dividers of
// R4 give 8 kHz (÷6·256) and 16 kHz (÷3·256). With Opts.MCLK at 12.288 MHz
// the chip runs from MCLK directly; with any other MCLK (24 MHz on the
// Waveshare/Seeed-style HATs) the driver programs the PLL (R52..R55) to
// 98.304 MHz and divides it by 4 (fixed) and 2 (SYSCLKDIV).
package wm8960
