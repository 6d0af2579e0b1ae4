package keypad_test

import (
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/deskphone/phone/hal"
	"github.com/deskphone/phone/hal/keypad"
)

func ExampleNewScanner() {
	// A one-key "matrix" whose column reads Low (key pressed).
	row := &gpiotest.Pin{N: "ROW"}
	col := &gpiotest.Pin{N: "COL"}
	s, err := keypad.NewScanner([]gpio.PinIO{row}, []gpio.PinIn{col}, &keypad.Opts{Map: [][]hal.Key{{'5'}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	col.Out(gpio.Low) // hold the key down
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for ms := 0; ms <= 25; ms += 5 {
		s.Scan(t0.Add(time.Duration(ms)*time.Millisecond), func(ev hal.KeyEvent) {
			fmt.Println(ev.Key, ev.Down, ev.At.Sub(t0))
		})
	}
	// Output: 5 true 0s
}
