// Package board picks the hardware of the machine the phone runs on.
// Each subpackage holds one board's facts (pins, buses, audio devices)
// and a constructor that returns a wired hal.Board:
//
//   - board/sim: a developer's host: keys from the terminal and the local
//     API, audio from a tone or WAV file, audio to a WAV file.
//   - board/qemu: the emulated device: keys, hook and audio over a serial
//     port or socket.
//   - board/rpi: the Raspberry Pi desk phone: GPIO keypad and hook, LEDs,
//     the WM8960 codec over I2C, ALSA audio.
//
// Wiring is explicit: Open switches on the name; nothing registers itself
// from init.
package board
