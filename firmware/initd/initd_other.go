//go:build !linux

package initd

import (
	"fmt"
	"os"
)

// Main is phoned's entry point as PID 1; only Linux images have one.
func Main() {
	fmt.Fprintln(os.Stderr, "initd: PID 1 is only supported on Linux")
	os.Exit(1)
}
