package wm8960

import (
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
)

// TestInitPLL16k is the Pi HAT's wideband power-up: the same sequence as
// at 8 kHz (24 MHz crystal, PLL to SYSCLK 12.288 MHz) except R4, whose
// ADCDIV and DACDIV divide SYSCLK/256 by 3 instead of 6 (datasheet
// "Clocking and Sample Rates": 011 is SYSCLK/(3.0 × 256) = 16 kHz).
func TestInitPLL16k(t *testing.T) {
	ops := append([]i2ctest.IO(nil), initOps24M8k...)
	n := 0
	for i, o := range ops {
		if o.W[0]>>1 == rClock1 {
			ops[i] = op(0x08, 0xDD) // R4 = 0x0DD: ADCDIV=DACDIV=011 (÷3), SYSCLKDIV=÷2, CLKSEL=PLL
			n++
		}
	}
	if n != 1 {
		t.Fatalf("init sequence writes R4 %d times", n)
	}
	o := testOpts()
	o.SampleRate = 16000
	d, pb := newDev(t, o, ops)
	closePlayback(t, pb)
	if d.rate != 16000 {
		t.Fatalf("rate %d", d.rate)
	}
}

// TestClockingRates checks R4 against the datasheet's divider table for
// both rates, with and without the PLL: the ADC and DAC run at SYSCLK /
// (256 × div) with SYSCLK 12.288 MHz.
func TestClockingRates(t *testing.T) {
	for _, c := range []struct {
		hz   int
		pll  bool
		want uint16
	}{
		{8000, false, 0x1B0}, {8000, true, 0x1B5},
		{16000, false, 0x0D8}, {16000, true, 0x0DD},
	} {
		got, err := clockingFor(c.hz, c.pll)
		if err != nil || got != c.want {
			t.Errorf("clockingFor(%d, pll %v) = %#03x, %v; want %#03x", c.hz, c.pll, got, err, c.want)
		}
		// ADCDIV/DACDIV codes 000..110: SYSCLK/256 divided by these.
		divs := [8]float64{1, 1.5, 2, 3, 4, 5.5, 6, 0}
		div := int(got>>6) & 7
		if dac := int(got>>3) & 7; dac != div || divs[div] == 0 || sysclkHz/(256*divs[div]) != float64(c.hz) {
			t.Errorf("%d Hz: ADCDIV %03b DACDIV %03b do not give the rate", c.hz, div, dac)
		}
	}
}
