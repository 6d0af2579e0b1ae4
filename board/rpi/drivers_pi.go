//go:build arm || arm64

package rpi

import (
	// The Pi's SoC and board drivers, as host.Init registers them on ARM.
	_ "periph.io/x/host/v3/bcm283x"
	_ "periph.io/x/host/v3/rpi"
)
