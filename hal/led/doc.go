// Package led drives the phone's indicators and ringer from GPIO pins.
//
// Indicator shows each hal.LED on one output pin, blinking in software:
// all blinking LEDs share one 100 ms clock, so two LEDs with the same
// pattern blink together. Buzzer rings a GPIO buzzer in a cadence, with
// hardware PWM at a tone frequency where the pin supports it (a passive
// piezo) and plain on/off otherwise (an active buzzer).
package led
