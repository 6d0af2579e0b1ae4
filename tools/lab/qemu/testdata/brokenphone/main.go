// Command brokenphone is a deliberately broken firmware for the QEMU
// test tier: as PID 1 it is the real initd, but the phone initd starts
// (this same binary, not PID 1) crashes at once, every time. Such a slot
// never becomes healthy, so its trial boot must end in a rollback.
package main

import (
	"fmt"
	"os"

	"github.com/deskphone/phone/firmware/initd"
)

func main() {
	if os.Getpid() == 1 {
		initd.Main()
	}
	fmt.Fprintln(os.Stderr, "brokenphone: crashing on purpose")
	os.Exit(3)
}
