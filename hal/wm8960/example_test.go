package wm8960_test

import (
	"fmt"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/wm8960"
)

func ExampleNewI2C() {
	// On a Pi: bus, _ := i2creg.Open("1") (board/rpi does this).
	bus := &i2ctest.Record{}
	o := wm8960.DefaultOpts
	o.MCLK = 12288 * physic.KiloHertz // no PLL needed
	o.Settle = 0
	codec, err := wm8960.NewI2C(bus, wm8960.Addr, &o)
	if err != nil {
		fmt.Println(err)
		return
	}
	codec.SetRoute(hal.RouteSpeaker)
	fmt.Printf("%d writes, first %#x\n", len(bus.Ops), bus.Ops[0].W)
	// Output: 25 writes, first 0x1e00
}
