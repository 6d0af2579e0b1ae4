package wm8960

import (
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
)

// Addr is the WM8960's 7-bit I²C address (the chip has no address pin).
const Addr uint16 = 0x1a

// Register numbers from the datasheet's register map.
const (
	rLeftInVol   = 0  // R0 Left Input Volume: IPVU, LINMUTE, LIZC, LINVOL[5:0]
	rRightInVol  = 1  // R1 Right Input Volume
	rLOUT1       = 2  // R2 LOUT1 (headphone left) Volume: OUT1VU, LO1ZC, LOUT1VOL[6:0]
	rROUT1       = 3  // R3 ROUT1 (headphone right) Volume
	rClock1      = 4  // R4 Clocking (1): ADCDIV[8:6], DACDIV[5:3], SYSCLKDIV[2:1], CLKSEL[0]
	rADCDAC1     = 5  // R5 ADC and DAC Control (1): DACMU[3]
	rIface1      = 7  // R7 Audio Interface (1): MS[6], WL[3:2], FORMAT[1:0]
	rLeftDAC     = 10 // R10 Left DAC Volume: DACVU, LDACVOL[7:0]
	rRightDAC    = 11 // R11 Right DAC Volume
	rReset       = 15 // R15 Reset: any write resets every register
	rLeftADC     = 21 // R21 Left ADC Volume: ADCVU, LADCVOL[7:0]
	rAddCtl1     = 23 // R23 Additional Control (1): DATSEL[3:2]
	rPower1      = 25 // R25 Power Management (1): VMIDSEL[8:7], VREF, AINL, AINR, ADCL, ADCR, MICB, DIGENB
	rPower2      = 26 // R26 Power Management (2): DACL, DACR, LOUT1, ROUT1, SPKL, SPKR, OUT3, PLL_EN
	rLeftADCPath = 32 // R32 ADCL Signal Path: LMN1[8], LMP3, LMP2, LMICBOOST[5:4], LMIC2B[3]
	rLeftOutMix  = 34 // R34 Left Out Mix (1): LD2LO[8], LI2LO, LI2LOVOL[6:4]
	rRightOutMix = 37 // R37 Right Out Mix (2): RD2RO[8], RI2RO, RI2ROVOL[6:4]
	rLOUT2       = 40 // R40 LOUT2 (speaker left) Volume: SPKVU, SPKLZC, SPKLVOL[6:0]
	rROUT2       = 41 // R41 ROUT2 (speaker right) Volume
	rPower3      = 47 // R47 Power Management (3): LMIC[5], RMIC, LOMIX[3], ROMIX[2]
	rClassD1     = 49 // R49 Class D Control (1): SPK_OP_EN[7:6], bits 5:0 reserved (110111)
	rPLLN        = 52 // R52 PLL N: OPCLKDIV[8:6], SDM[5], PLLPRESCALE[4], PLLN[3:0]
	rPLLK1       = 53 // R53 PLL K 1: PLLK[23:18]
	rPLLK2       = 54 // R54 PLL K 2: PLLK[17:9]
	rPLLK3       = 55 // R55 PLL K 3: PLLK[8:0]
	numRegs      = 56
)

var regNames = map[uint8]string{
	rLeftInVol: "left input volume", rRightInVol: "right input volume",
	rLOUT1: "LOUT1 volume", rROUT1: "ROUT1 volume", rClock1: "clocking 1",
	rADCDAC1: "ADC/DAC control 1", rIface1: "audio interface 1",
	rLeftDAC: "left DAC volume", rRightDAC: "right DAC volume", rReset: "reset",
	rLeftADC: "left ADC volume", rAddCtl1: "additional control 1",
	rPower1: "power management 1", rPower2: "power management 2",
	rLeftADCPath: "ADCL signal path", rLeftOutMix: "left out mix", rRightOutMix: "right out mix",
	rLOUT2: "LOUT2 (speaker) volume", rROUT2: "ROUT2 (speaker) volume",
	rPower3: "power management 3", rClassD1: "class D control 1",
	rPLLN: "PLL N", rPLLK1: "PLL K1", rPLLK2: "PLL K2", rPLLK3: "PLL K3",
}

// Register bits.
const (
	vuBit = 0x100 // IPVU / OUT1VU / SPKVU / DACVU / ADCVU: latch left and right together

	linMute = 0x080 // R0 LINMUTE

	clkSelPLL  = 0x001 // R4 CLKSEL: SYSCLK from the PLL
	sysclkDiv2 = 0x004 // R4 SYSCLKDIV = 10: divide by 2

	dacMute = 0x008 // R5 DACMU: DAC soft mute

	ifaceI2S16Slave = 0x002 // R7: FORMAT=10 (I²S), WL=00 (16 bit), MS=0 (slave)

	datselLeftADC = 0x004 // R23 DATSEL=01: both channels carry the left ADC
	addCtl1Reset  = 0x1C0 // R23 reset value: TSDEN, VSEL=11

	vmid5k   = 0x180 // R25 VMIDSEL=11: 2×5 kΩ, fast start-up
	vmid50k  = 0x080 // R25 VMIDSEL=01: 2×50 kΩ, playback and record
	vref     = 0x040 // R25 VREF
	ainL     = 0x020 // R25 AINL: left input PGA and boost
	adcL     = 0x008 // R25 ADCL
	micBias  = 0x002 // R25 MICB
	dacL     = 0x100 // R26 DACL
	dacR     = 0x080 // R26 DACR
	lout1    = 0x040 // R26 LOUT1
	rout1    = 0x020 // R26 ROUT1
	spkL     = 0x010 // R26 SPKL
	spkR     = 0x008 // R26 SPKR
	pllEn    = 0x001 // R26 PLL_EN
	lmicPGA  = 0x020 // R47 LMIC
	loMix    = 0x008 // R47 LOMIX
	roMix    = 0x004 // R47 ROMIX
	lmn1     = 0x100 // R32 LMN1: LINPUT1 to the PGA's inverting input
	lmic2b   = 0x008 // R32 LMIC2B: PGA to the boost mixer
	d2oMix   = 0x100 // R34 LD2LO / R37 RD2RO: DAC to output mixer
	i2oVol   = 0x050 // R34/R37 LI2LOVOL/RI2ROVOL reset value (−15 dB, unused path)
	spkOff   = 0x037 // R49 SPK_OP_EN=00, reserved bits at reset value
	spkBoth  = 0x0F7 // R49 SPK_OP_EN=11: both class D outputs
	dacVol0  = 0x0FF // R10/R11: 0 dB
	adcVol0  = 0x0C3 // R21: 0 dB
	pllSDM   = 0x020 // R52 SDM: fractional mode
	pllPre2  = 0x010 // R52 PLLPRESCALE: MCLK ÷ 2 into the PLL
	outMute  = 0x000 // R2/R3/R40/R41 ≤ 0x2F: output muted
	outMax   = 0x79  // R2/R3/R40/R41: 0 dB, the loudest level the driver uses
	outRange = 60    // dB spanned by volume 1..100
)

// Opts configures the chip.
type Opts struct {
	// MCLK is the master clock the board feeds the chip. 12.288 MHz runs
	// the chip directly; anything else uses the PLL.
	MCLK physic.Frequency
	// SampleRate is 8000 or 16000.
	SampleRate int
	// Route is the initial acoustic path.
	Route hal.Route
	// Volume is the initial output volume, 0..100.
	Volume int
	// InputGain is the initial microphone PGA gain, 0..100
	// (−17.25 dB .. +30 dB).
	InputGain int
	// MicBoost is the fixed boost mixer gain in dB: 0, 13, 20 or 29.
	MicBoost int
	// Settle is how long VMID is given to charge after power-up.
	Settle time.Duration
}

// DefaultOpts suits the common 24 MHz-crystal WM8960 HATs: narrowband,
// handset, moderate volume and gain.
var DefaultOpts = Opts{
	MCLK:       24 * physic.MegaHertz,
	SampleRate: 8000,
	Route:      hal.RouteHandset,
	Volume:     70,
	InputGain:  60,
	MicBoost:   20,
	Settle:     100 * time.Millisecond,
}

// Dev is one WM8960. It implements hal.Codec.
type Dev struct {
	bus  i2c.Bus
	addr uint16
	pll  bool

	mu     sync.Mutex // guards following
	closed bool
	reg    [numRegs]uint16 // cache of written values (the chip is write-only)
	route  hal.Route
	volume int
	gain   int
	muted  bool
	rate   int
}

var _ hal.Codec = (*Dev)(nil)

// NewI2C resets and programs the WM8960 at addr on bus. A nil o means
// DefaultOpts.
func NewI2C(bus i2c.Bus, addr uint16, o *Opts) (*Dev, error) {
	if o == nil {
		o = &DefaultOpts
	}
	if bus == nil {
		return nil, fmt.Errorf("wm8960: nil bus")
	}
	if err := checkPercent(o.Volume); err != nil {
		return nil, fmt.Errorf("wm8960: volume %d: %w", o.Volume, err)
	}
	if err := checkPercent(o.InputGain); err != nil {
		return nil, fmt.Errorf("wm8960: input gain %d: %w", o.InputGain, err)
	}
	boost, ok := boostBits(o.MicBoost)
	if !ok {
		return nil, fmt.Errorf("wm8960: mic boost %d dB (want 0, 13, 20 or 29): %w", o.MicBoost, ErrRange)
	}
	if _, err := clockingFor(o.SampleRate, false); err != nil {
		return nil, err
	}
	if o.Route < hal.RouteHandset || o.Route > hal.RouteHeadset {
		return nil, fmt.Errorf("wm8960: route %v: %w", o.Route, ErrRange)
	}
	d := &Dev{bus: bus, addr: addr, route: o.Route, volume: o.Volume, gain: o.InputGain, rate: o.SampleRate}
	mclk := int64(o.MCLK / physic.Hertz)
	var pre bool
	var n uint16
	var k uint32
	if mclk != sysclkHz {
		var err error
		pre, n, k, err = pllFor(mclk)
		if err != nil {
			return nil, err
		}
		d.pll = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.initLocked(boost, pre, n, k, o.Settle); err != nil {
		return nil, err
	}
	return d, nil
}

// initLocked writes the whole power-up sequence.
func (d *Dev) initLocked(boost uint16, pre bool, n uint16, k uint32, settle time.Duration) error {
	if err := d.writeLocked(rReset, 0); err != nil {
		return err
	}
	// Reset values of the registers we read-modify-write later.
	d.reg[rAddCtl1] = addCtl1Reset
	d.reg[rClassD1] = spkOff
	// VMID and VREF first, fast start-up divider, then let VMID charge.
	if err := d.writeLocked(rPower1, vmid5k|vref); err != nil {
		return err
	}
	if settle > 0 {
		time.Sleep(settle)
	}
	// Clocking: PLL (when MCLK is not 12.288 MHz), then SYSCLK dividers.
	power2 := uint16(0)
	if d.pll {
		n52 := n
		if k != 0 {
			n52 |= pllSDM
		}
		if pre {
			n52 |= pllPre2
		}
		seq := []struct {
			r uint8
			v uint16
		}{
			{rPLLN, n52},
			{rPLLK1, uint16(k>>18) & 0x3F},
			{rPLLK2, uint16(k>>9) & 0x1FF},
			{rPLLK3, uint16(k) & 0x1FF},
		}
		for _, s := range seq {
			if err := d.writeLocked(s.r, s.v); err != nil {
				return err
			}
		}
		power2 = pllEn
		if err := d.writeLocked(rPower2, power2); err != nil {
			return err
		}
	}
	r4, _ := clockingFor(d.rate, d.pll)
	if err := d.writeLocked(rClock1, r4); err != nil {
		return err
	}
	if err := d.writeLocked(rIface1, ifaceI2S16Slave); err != nil {
		return err
	}
	if err := d.writeLocked(rAddCtl1, addCtl1Reset|datselLeftADC); err != nil {
		return err
	}
	// Input: LINPUT1 -> left input PGA (inverting input) -> boost mixer -> left ADC.
	if err := d.writeLocked(rLeftADCPath, lmn1|lmic2b|boost<<4); err != nil {
		return err
	}
	if err := d.writeLocked(rLeftInVol, d.inVolLocked()); err != nil {
		return err
	}
	if err := d.writeLocked(rLeftADC, vuBit|adcVol0); err != nil {
		return err
	}
	// Output: DACs -> output mixers; DACs at 0 dB, unmuted.
	if err := d.writeLocked(rLeftOutMix, d2oMix|i2oVol); err != nil {
		return err
	}
	if err := d.writeLocked(rRightOutMix, d2oMix|i2oVol); err != nil {
		return err
	}
	if err := d.writeLocked(rLeftDAC, dacVol0); err != nil {
		return err
	}
	if err := d.writeLocked(rRightDAC, vuBit|dacVol0); err != nil {
		return err
	}
	if err := d.writeLocked(rADCDAC1, 0); err != nil {
		return err
	}
	// Power the analogue blocks: input PGA and output mixers, then the
	// input path with VMID on its 2×50 kΩ divider.
	if err := d.writeLocked(rPower3, lmicPGA|loMix|roMix); err != nil {
		return err
	}
	if err := d.writeLocked(rPower1, vmid50k|vref|ainL|adcL|micBias); err != nil {
		return err
	}
	return d.applyRouteLocked(d.route, true)
}

// outputs returns the R26 output enables and whether the class D speaker
// drivers are used for r.
func outputs(r hal.Route) (bits uint16, speaker bool) {
	if r == hal.RouteSpeaker {
		return spkL | spkR, true
	}
	return lout1 | rout1, false // handset and headset both use the headphone drivers
}

// applyRouteLocked powers the outputs of r, muting the previous ones first
// unless this is the initial setup.
func (d *Dev) applyRouteLocked(r hal.Route, initial bool) error {
	_, oldSpk := outputs(d.route)
	bits, spk := outputs(r)
	if !initial {
		if oldSpk == spk {
			d.route = r
			return nil // same drivers: nothing to change on the chip
		}
		if err := d.writeOutVolLocked(oldSpk, outMute); err != nil {
			return err
		}
	}
	p2 := dacL | dacR | bits
	if d.pll {
		p2 |= pllEn
	}
	if err := d.writeLocked(rPower2, p2); err != nil {
		return err
	}
	cd := uint16(spkOff)
	if spk {
		cd = spkBoth
	}
	if err := d.writeLocked(rClassD1, cd); err != nil {
		return err
	}
	d.route = r
	return d.writeOutVolLocked(spk, outVol(d.volume))
}

// writeOutVolLocked sets the left then right volume of the headphone (R2,
// R3) or speaker (R40, R41) drivers; the update bit on the second write
// latches both.
func (d *Dev) writeOutVolLocked(speaker bool, v uint16) error {
	l, r := uint8(rLOUT1), uint8(rROUT1)
	if speaker {
		l, r = rLOUT2, rROUT2
	}
	if err := d.writeLocked(l, v); err != nil {
		return err
	}
	return d.writeLocked(r, vuBit|v)
}

// SetRoute switches the output drivers: handset and headset use the
// headphone outputs (LOUT1/ROUT1), speaker the class D outputs.
func (d *Dev) SetRoute(r hal.Route) error {
	if r < hal.RouteHandset || r > hal.RouteHeadset {
		return fmt.Errorf("wm8960: route %v: %w", r, ErrRange)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if r == d.route {
		return nil
	}
	return d.applyRouteLocked(r, false)
}

// SetVolume sets the output volume of the current route: 0 mutes, 1..100
// map linearly in dB onto −60 dB..0 dB.
func (d *Dev) SetVolume(v int) error {
	if err := checkPercent(v); err != nil {
		return fmt.Errorf("wm8960: volume %d: %w", v, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	_, spk := outputs(d.route)
	if err := d.writeOutVolLocked(spk, outVol(v)); err != nil {
		return err
	}
	d.volume = v
	return nil
}

// SetMute mutes or unmutes the microphone with the left input PGA's
// LINMUTE bit (R0), keeping its gain.
func (d *Dev) SetMute(muted bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	old := d.muted
	d.muted = muted
	if err := d.writeLocked(rLeftInVol, d.inVolLocked()); err != nil {
		d.muted = old
		return err
	}
	return nil
}

// SetInputGain sets the microphone PGA gain: 0..100 map onto LINVOL
// 0x00..0x3F (−17.25 dB..+30 dB in 0.75 dB steps).
func (d *Dev) SetInputGain(g int) error {
	if err := checkPercent(g); err != nil {
		return fmt.Errorf("wm8960: input gain %d: %w", g, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	old := d.gain
	d.gain = g
	if err := d.writeLocked(rLeftInVol, d.inVolLocked()); err != nil {
		d.gain = old
		return err
	}
	return nil
}

// SetSampleRate switches the ADC and DAC between 8000 and 16000 Hz (R4).
// The I²S master (the SoC) must switch its LRCLK to match.
func (d *Dev) SetSampleRate(hz int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	r4, err := clockingFor(hz, d.pll)
	if err != nil {
		return err
	}
	if err := d.writeLocked(rClock1, r4); err != nil {
		return err
	}
	d.rate = hz
	return nil
}

// Route reports the current route.
func (d *Dev) Route() hal.Route {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.route
}

// Close mutes the DAC and powers the chip down. It is idempotent.
func (d *Dev) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	for _, s := range []struct {
		r uint8
		v uint16
	}{{rADCDAC1, dacMute}, {rPower2, 0}, {rPower3, 0}, {rPower1, 0}} {
		if err := d.writeLocked(s.r, s.v); err != nil {
			return err
		}
	}
	return nil
}

// writeLocked sends one 9-bit register write and caches it. An error
// names the register.
func (d *Dev) writeLocked(r uint8, v uint16) error {
	w := [2]byte{r<<1 | byte(v>>8)&1, byte(v)}
	if err := d.bus.Tx(d.addr, w[:], nil); err != nil {
		return &RegError{Reg: r, Value: v, Err: err}
	}
	if int(r) < numRegs {
		d.reg[r] = v & 0x1FF
	}
	return nil
}

// RegError reports a failed register write.
type RegError struct {
	Reg   uint8
	Value uint16
	Err   error
}

func (e *RegError) Error() string {
	return fmt.Sprintf("wm8960: write R%d (%s) = %#03x: %v", e.Reg, regNames[e.Reg], e.Value, e.Err)
}

func (e *RegError) Unwrap() error { return e.Err }

// inVolLocked is R0 for the current gain and mute state.
func (d *Dev) inVolLocked() uint16 {
	v := vuBit | uint16(d.gain*0x3F/100)
	if d.muted {
		v |= linMute
	}
	return v
}

// outVol maps a 0..100 volume onto the 7-bit output PGA value: 0 mutes;
// 1..100 span outRange dB in 1 dB steps up to 0 dB.
func outVol(v int) uint16 {
	if v <= 0 {
		return outMute
	}
	return uint16(outMax - (100-v)*outRange/99)
}

func checkPercent(v int) error {
	if v < 0 || v > 100 {
		return ErrRange
	}
	return nil
}

func boostBits(db int) (uint16, bool) {
	switch db {
	case 0:
		return 0, true
	case 13:
		return 1, true
	case 20:
		return 2, true
	case 29:
		return 3, true
	}
	return 0, false
}

// sysclkHz is the SYSCLK the dividers of R4 assume: 256 × 48 kHz.
const sysclkHz = 12288000

// clockingFor returns R4 for a sample rate: ADCDIV and DACDIV divide
// SYSCLK/256 by 6 (8 kHz) or 3 (16 kHz).
func clockingFor(hz int, pll bool) (uint16, error) {
	var div uint16
	switch hz {
	case 8000:
		div = 0b110 // SYSCLK / (6.0 × 256)
	case 16000:
		div = 0b011 // SYSCLK / (3.0 × 256)
	default:
		return 0, fmt.Errorf("wm8960: sample rate %d Hz (want 8000 or 16000): %w", hz, ErrRange)
	}
	v := div<<6 | div<<3
	if pll {
		v |= sysclkDiv2 | clkSelPLL
	}
	return v, nil
}

// pllFor finds the PLL setting that makes f2 = 98.304 MHz (4 × 2 × SYSCLK)
// from mclk: R = f2 / fref with 5 < N < 13 (datasheet, "PLL"), using the
// ÷2 prescaler when MCLK is too fast. K is the fraction × 2^24, rounded.
func pllFor(mclk int64) (prescale bool, n uint16, k uint32, err error) {
	const f2 = 4 * 2 * sysclkHz
	for _, pre := range []int64{1, 2} {
		ref := mclk / pre
		if ref <= 0 {
			break
		}
		nn := f2 / ref
		if nn > 5 && nn < 13 {
			rem := f2 % ref
			kk := (rem<<24 + ref/2) / ref
			return pre == 2, uint16(nn), uint32(kk), nil
		}
	}
	return false, 0, 0, fmt.Errorf("wm8960: MCLK %d Hz gives no PLL ratio: %w", mclk, ErrClock)
}
