// Package rpi is the Raspberry Pi desk phone board: a 5×4 matrix keypad,
// a hook switch, four LEDs and a buzzer on GPIO, a WM8960 codec on I²C
// bus 1 at 0x1a, and audio through ALSA (hal/alsa). The wiring table is in
// docs/hardware.md and in DefaultOptions; Options override any of it.
//
// This is the only package that loads periph's drivers (the Pi's only,
// drivers.go), calls gpioreg.ByName and
// i2creg.Open. It runs on the Pi 3/4/5 (arm64) and on the Pi Zero/1
// (armv6, built without cgo and so without ALSA audio).
package rpi
