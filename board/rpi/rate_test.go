package rpi

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/hal"
)

// TestOpenWideband: a 16 kHz Format sets the WM8960's ADC and DAC
// dividers for 16 kHz (R4 = 0x0DD: ÷3 with SYSCLK from the PLL fed by the
// HAT's 24 MHz crystal) and opens both ALSA streams at 16000 Hz; the
// default stays 8 kHz (R4 = 0x1B5).
func TestOpenWideband(t *testing.T) {
	for _, tc := range []struct {
		rate int
		r4   [2]byte // the R4 write on the wire
	}{
		{8000, [2]byte{0x09, 0xB5}},
		{16000, [2]byte{0x08, 0xDD}},
	} {
		synctest.Test(t, func(t *testing.T) {
			m := newMachine()
			o := Options{}
			if tc.rate != 8000 {
				o.Format = hal.Format{SampleRate: tc.rate, Channels: 1, Frame: 20 * time.Millisecond}
			}
			b, err := open(o, m.platform())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var r4 int
			for _, op := range m.bus.Ops {
				if op.Addr == 0x1a && len(op.W) == 2 && op.W[0]>>1 == 4 {
					r4++
					if [2]byte(op.W) != tc.r4 {
						t.Errorf("%d Hz: R4 written as %x, want %x", tc.rate, op.W, tc.r4)
					}
				}
			}
			if r4 != 1 {
				t.Errorf("%d Hz: R4 written %d times", tc.rate, r4)
			}
			if in, out := b.AudioIn.Format().SampleRate, b.AudioOut.Format().SampleRate; in != tc.rate || out != tc.rate {
				t.Errorf("%d Hz: ALSA opened at %d Hz capture, %d Hz playback", tc.rate, in, out)
			}
			if got := b.AudioIn.Format().FrameSamples(); got != tc.rate/50 {
				t.Errorf("%d Hz: %d samples a 20 ms frame", tc.rate, got)
			}
		})
	}
}
