// Package hook reads the handset hook switch on a GPIO input.
//
// The switch is watched through edge interrupts (gpio.PinIn.WaitForEdge)
// where the pin offers them and polled otherwise. Either way a change is
// accepted only after the contact has stayed put for Opts.Debounce: every
// edge (or changed sample) restarts the wait, so the chatter of a
// handset being lifted or dropped gives one event, stamped with the time
// of the last bounce. While the handset stays put the watcher sleeps in
// WaitForEdge for up to Opts.EdgeTimeout (a minute) and Close ends the
// wait with the pin's Halt (halt.go), so an idle phone is not woken.
package hook
