package rpi

import (
	"periph.io/x/conn/v3/driver/driverreg"

	// The Raspberry Pi's drivers only: GPIO through the character
	// device or sysfs, I²C and SPI through sysfs, 1-wire through netlink
	// (what host.Init registers on Linux), and on ARM the Pi's SoC and
	// board (drivers_pi.go). host.Init would register every board
	// periph knows (Allwinner, Pine64, BeagleBone, C.H.I.P., ODROID,
	// ...): code a phone on a Pi never runs (docs/performance.md).
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/netlink"
	_ "periph.io/x/host/v3/sysfs"
)

// initDrivers loads the drivers registered above (what host.Init does
// after registering every board's).
func initDrivers() error {
	_, err := driverreg.Init()
	return err
}
