// Package qemu is the board of the emulated phone (qemu-system-aarch64
// or any machine without phone hardware). It has no GPIO keypad and no
// codec chip: the front panel — keys, hook switch, LEDs, ringer and codec
// settings — is a text line protocol (hal/serialio) on a serial port or a
// TCP or unix socket, and audio is raw PCM in files or UDP datagrams on
// the host. The screen (hal/termpanel) is served as text on its own
// socket (DefaultOptions: TCP 7080): `nc HOST 7080` in a terminal shows
// every frame. docs/hardware.md shows how to press keys on it.
package qemu
