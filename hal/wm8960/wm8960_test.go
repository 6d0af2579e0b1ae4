package wm8960

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
)

// op is one expected write, written out as the two bytes on the wire so
// that the tests also check the 9-bit encoding.
func op(b0, b1 byte) i2ctest.IO { return i2ctest.IO{Addr: Addr, W: []byte{b0, b1}} }

// initOps24M8k is the power-up sequence for DefaultOpts (24 MHz MCLK,
// 8 kHz, handset, volume 70, gain 60, +20 dB boost).
var initOps24M8k = []i2ctest.IO{
	op(0x1E, 0x00), // R15 reset
	op(0x33, 0xC0), // R25 = 0x1C0: VMIDSEL=11 (2×5k), VREF
	op(0x68, 0x38), // R52 = 0x038: SDM, PLLPRESCALE (24 MHz ÷ 2), N=8
	op(0x6A, 0x0C), // R53 = 0x00C: K[23:18] of 0x3126E9
	op(0x6C, 0x93), // R54 = 0x093: K[17:9]
	op(0x6E, 0xE9), // R55 = 0x0E9: K[8:0]
	op(0x34, 0x01), // R26 = 0x001: PLL_EN
	op(0x09, 0xB5), // R4 = 0x1B5: ADCDIV=DACDIV=110 (÷6), SYSCLKDIV=÷2, CLKSEL=PLL
	op(0x0E, 0x02), // R7 = 0x002: I²S, 16 bit, slave
	op(0x2F, 0xC4), // R23 = 0x1C4: DATSEL=01 (both channels = left ADC)
	op(0x41, 0x28), // R32 = 0x128: LMN1, LMICBOOST=10 (+20 dB), LMIC2B
	op(0x01, 0x25), // R0 = 0x125: IPVU, LINVOL=0x25 (gain 60)
	op(0x2B, 0xC3), // R21 = 0x1C3: ADCVU, 0 dB
	op(0x45, 0x50), // R34 = 0x150: LD2LO
	op(0x4B, 0x50), // R37 = 0x150: RD2RO
	op(0x14, 0xFF), // R10 = 0x0FF: left DAC 0 dB
	op(0x17, 0xFF), // R11 = 0x1FF: DACVU, right DAC 0 dB
	op(0x0A, 0x00), // R5 = 0x000: DAC unmuted
	op(0x5E, 0x2C), // R47 = 0x02C: LMIC, LOMIX, ROMIX
	op(0x32, 0xEA), // R25 = 0x0EA: VMIDSEL=01 (2×50k), VREF, AINL, ADCL, MICB
	op(0x35, 0xE1), // R26 = 0x1E1: DACL, DACR, LOUT1, ROUT1, PLL_EN
	op(0x62, 0x37), // R49 = 0x037: class D off
	op(0x04, 0x67), // R2 = 0x067: LOUT1 −18 dB (volume 70)
	op(0x07, 0x67), // R3 = 0x167: OUT1VU, ROUT1 −18 dB
}

func testOpts() *Opts {
	o := DefaultOpts
	o.Settle = 0
	return &o
}

func newDev(t *testing.T, o *Opts, ops ...[]i2ctest.IO) (*Dev, *i2ctest.Playback) {
	t.Helper()
	pb := &i2ctest.Playback{DontPanic: true}
	for _, s := range ops {
		pb.Ops = append(pb.Ops, s...)
	}
	d, err := NewI2C(pb, Addr, o)
	if err != nil {
		t.Fatalf("NewI2C: %v", err)
	}
	return d, pb
}

func closePlayback(t *testing.T, pb *i2ctest.Playback) {
	t.Helper()
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestInitSequence(t *testing.T) {
	_, pb := newDev(t, testOpts(), initOps24M8k)
	closePlayback(t, pb)
}

func TestInitDirectMCLK16k(t *testing.T) {
	o := testOpts()
	o.MCLK = 12288 * physic.KiloHertz
	o.SampleRate = 16000
	o.Route = hal.RouteSpeaker
	o.Volume = 100
	o.InputGain = 0
	o.MicBoost = 0
	ops := []i2ctest.IO{
		op(0x1E, 0x00), // R15 reset
		op(0x33, 0xC0), // R25 VMID fast, VREF
		op(0x08, 0xD8), // R4 = 0x0D8: ÷3 both, SYSCLK = MCLK, no PLL
		op(0x0E, 0x02), // R7
		op(0x2F, 0xC4), // R23
		op(0x41, 0x08), // R32 = 0x108: LMN1, no boost, LMIC2B
		op(0x01, 0x00), // R0 = 0x100: IPVU, LINVOL 0 (−17.25 dB)
		op(0x2B, 0xC3), // R21
		op(0x45, 0x50), // R34
		op(0x4B, 0x50), // R37
		op(0x14, 0xFF), // R10
		op(0x17, 0xFF), // R11
		op(0x0A, 0x00), // R5
		op(0x5E, 0x2C), // R47
		op(0x32, 0xEA), // R25
		op(0x35, 0x98), // R26 = 0x198: DACL, DACR, SPKL, SPKR (no PLL)
		op(0x62, 0xF7), // R49 = 0x0F7: both class D outputs
		op(0x50, 0x79), // R40 = 0x079: speaker left 0 dB
		op(0x53, 0x79), // R41 = 0x179: SPKVU, speaker right 0 dB
	}
	_, pb := newDev(t, o, ops)
	closePlayback(t, pb)
}

func TestPLL(t *testing.T) {
	for _, tc := range []struct {
		mclk int64
		pre  bool
		n    uint16
		k    uint32
	}{
		{24000000, true, 8, 0x3126E9},  // 12 MHz into the PLL
		{12000000, false, 8, 0x3126E9}, // datasheet table: N=8, K≈0x3126E8
		{19200000, true, 10, 0x3D70A4}, // Pi's 19.2 MHz oscillator ÷ 2
		{11289600, false, 8, 0xB51D9B}, // 98.304/11.2896 = 8.70748; 0.70748·2^24
	} {
		pre, n, k, err := pllFor(tc.mclk)
		if err != nil || pre != tc.pre || n != tc.n || k != tc.k {
			t.Errorf("pllFor(%d) = %v, %d, %#x, %v; want %v, %d, %#x", tc.mclk, pre, n, k, err, tc.pre, tc.n, tc.k)
		}
	}
	if _, _, _, err := pllFor(1000); !errors.Is(err, ErrClock) {
		t.Errorf("pllFor(1 kHz) err = %v, want ErrClock", err)
	}
}

func TestRouteChange(t *testing.T) {
	toSpeaker := []i2ctest.IO{
		op(0x04, 0x00), // R2 = 0x000: mute LOUT1
		op(0x07, 0x00), // R3 = 0x100: mute ROUT1 (OUT1VU)
		op(0x35, 0x99), // R26 = 0x199: DACL, DACR, SPKL, SPKR, PLL_EN
		op(0x62, 0xF7), // R49: class D on
		op(0x50, 0x67), // R40 = 0x067
		op(0x53, 0x67), // R41 = 0x167
	}
	toHandset := []i2ctest.IO{
		op(0x50, 0x00), // R40: mute speaker
		op(0x53, 0x00), // R41 = 0x100
		op(0x35, 0xE1), // R26 = 0x1E1: headphone drivers
		op(0x62, 0x37), // R49: class D off
		op(0x04, 0x67), // R2
		op(0x07, 0x67), // R3
	}
	d, pb := newDev(t, testOpts(), initOps24M8k, toSpeaker, toHandset)
	if err := d.SetRoute(hal.RouteSpeaker); err != nil {
		t.Fatal(err)
	}
	if err := d.SetRoute(hal.RouteSpeaker); err != nil { // no change: no writes
		t.Fatal(err)
	}
	if err := d.SetRoute(hal.RouteHandset); err != nil {
		t.Fatal(err)
	}
	if err := d.SetRoute(hal.RouteHeadset); err != nil { // same drivers: no writes
		t.Fatal(err)
	}
	if d.Route() != hal.RouteHeadset {
		t.Errorf("Route() = %v", d.Route())
	}
	if err := d.SetRoute(hal.Route(7)); !errors.Is(err, ErrRange) {
		t.Errorf("SetRoute(7) = %v, want ErrRange", err)
	}
	closePlayback(t, pb)
}

func TestVolume(t *testing.T) {
	ops := []i2ctest.IO{
		op(0x04, 0x79), op(0x07, 0x79), // volume 100: 0 dB
		op(0x04, 0x3D), op(0x07, 0x3D), // volume 1: −60 dB
		op(0x04, 0x00), op(0x07, 0x00), // volume 0: muted
		// speaker route, volume 50
		op(0x04, 0x00), op(0x07, 0x00), op(0x35, 0x99), op(0x62, 0xF7), op(0x50, 0x00), op(0x53, 0x00),
		op(0x50, 0x5B), op(0x53, 0x5B), // volume 50: 0x79 − 50·60/99 = 0x5B (−30 dB)
	}
	d, pb := newDev(t, testOpts(), initOps24M8k, ops)
	for _, v := range []int{100, 1, 0} {
		if err := d.SetVolume(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.SetRoute(hal.RouteSpeaker); err != nil {
		t.Fatal(err)
	}
	if err := d.SetVolume(50); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int{-1, 101} {
		if err := d.SetVolume(v); !errors.Is(err, ErrRange) {
			t.Errorf("SetVolume(%d) = %v, want ErrRange", v, err)
		}
	}
	closePlayback(t, pb)
}

func TestMuteGainRate(t *testing.T) {
	ops := []i2ctest.IO{
		op(0x01, 0xA5), // R0 = 0x1A5: IPVU, LINMUTE, LINVOL 0x25
		op(0x01, 0xBF), // gain 100 while muted: 0x1BF
		op(0x01, 0x3F), // unmute: 0x13F
		op(0x08, 0xDD), // R4 = 0x0DD: 16 kHz via PLL
		op(0x09, 0xB5), // R4 = 0x1B5: back to 8 kHz
	}
	d, pb := newDev(t, testOpts(), initOps24M8k, ops)
	if err := d.SetMute(true); err != nil {
		t.Fatal(err)
	}
	if err := d.SetInputGain(100); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMute(false); err != nil {
		t.Fatal(err)
	}
	if err := d.SetSampleRate(16000); err != nil {
		t.Fatal(err)
	}
	if err := d.SetSampleRate(8000); err != nil {
		t.Fatal(err)
	}
	if err := d.SetSampleRate(44100); !errors.Is(err, ErrRange) {
		t.Errorf("SetSampleRate(44100) = %v, want ErrRange", err)
	}
	closePlayback(t, pb)
}

func TestClose(t *testing.T) {
	ops := []i2ctest.IO{
		op(0x0A, 0x08), // R5 = 0x008: DACMU
		op(0x34, 0x00), // R26 = 0
		op(0x5E, 0x00), // R47 = 0
		op(0x32, 0x00), // R25 = 0
	}
	d, pb := newDev(t, testOpts(), initOps24M8k, ops)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := d.SetVolume(10); !errors.Is(err, ErrClosed) {
		t.Errorf("SetVolume after Close = %v, want ErrClosed", err)
	}
	closePlayback(t, pb)
}

func TestBusErrorNamesRegister(t *testing.T) {
	// The playback ends after the first four writes: the fifth (R54)
	// fails and the error must say which register.
	pb := &i2ctest.Playback{DontPanic: true, Ops: initOps24M8k[:4]}
	_, err := NewI2C(pb, Addr, testOpts())
	var re *RegError
	if !errors.As(err, &re) || re.Reg != 54 {
		t.Fatalf("err = %v, want a RegError for R54", err)
	}
	if !strings.Contains(err.Error(), "R54 (PLL K2)") {
		t.Errorf("error %q does not name R54", err)
	}

	// A failure after init, on a volume write.
	boom := errors.New("nack")
	fb := &failBus{Playback: i2ctest.Playback{DontPanic: true, Ops: initOps24M8k}, failAt: len(initOps24M8k) + 1, err: boom}
	d, err := NewI2C(fb, Addr, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	err = d.SetVolume(40)
	if !errors.Is(err, boom) || !errors.As(err, &re) || re.Reg != 3 {
		t.Fatalf("SetVolume err = %v, want nack on R3", err)
	}
	if !strings.Contains(err.Error(), "R3 (ROUT1 volume)") {
		t.Errorf("error %q does not name R3", err)
	}
}

// failBus plays back ops and fails the failAt'th transaction (0-based).
type failBus struct {
	i2ctest.Playback
	n      int
	failAt int
	err    error
}

func (f *failBus) Tx(addr uint16, w, r []byte) error {
	defer func() { f.n++ }()
	if f.n == f.failAt {
		return f.err
	}
	if f.n > f.failAt {
		return errors.New("unexpected write after failure")
	}
	if f.n >= len(f.Ops) {
		return nil // writes after the recorded ones are accepted
	}
	return f.Playback.Tx(addr, w, r)
}

func TestBadOpts(t *testing.T) {
	for name, mod := range map[string]func(*Opts){
		"volume": func(o *Opts) { o.Volume = 200 },
		"gain":   func(o *Opts) { o.InputGain = -3 },
		"boost":  func(o *Opts) { o.MicBoost = 7 },
		"rate":   func(o *Opts) { o.SampleRate = 48000 },
		"route":  func(o *Opts) { o.Route = 9 },
		"mclk":   func(o *Opts) { o.MCLK = physic.KiloHertz },
	} {
		o := testOpts()
		mod(o)
		pb := &i2ctest.Playback{DontPanic: true}
		if _, err := NewI2C(pb, Addr, o); err == nil {
			t.Errorf("%s: NewI2C accepted bad opts", name)
		}
		if pb.Count != 0 {
			t.Errorf("%s: %d writes before validation failed", name, pb.Count)
		}
	}
	if _, err := NewI2C(nil, Addr, nil); err == nil {
		t.Error("nil bus accepted")
	}
}
