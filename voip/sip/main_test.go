package sip

import (
	"os"
	"runtime"
	"testing"
)

// TestMain makes sipgo opening a UDP socket of its own fatal at once: in
// a synctest bubble a real socket is never durably blocked, so the test
// would otherwise hang until -timeout without saying why. The panic
// carries the stack of the path that got there.
func TestMain(m *testing.M) {
	ownSocketHook = func(detail string) {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		panic("sip: sipgo is about to open a UDP socket of its own: " + detail + "\n" + string(buf))
	}
	os.Exit(m.Run())
}
