// Package hal defines the hardware the phone logic needs, as small
// interfaces and value types: a keypad, a hook switch, indicators (LEDs),
// a ringer, audio in and out, the audio codec chip's controls, and the
// screen (Display).
//
// hal is a leaf: it imports nothing of this module. Drivers live in
// subpackages (hal/keypad, hal/hook, hal/wm8960, ...), boards wire them
// (board/...), and hal/haltest holds fakes whose fields tests drive.
//
// Channels are closed by their producer: a driver owns the goroutine that
// feeds Events and closes the channel from Close.
package hal
