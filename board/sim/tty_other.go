//go:build !linux

package sim

import "os"

// isTerminal reports whether f is a character device; on these systems
// /dev/null counts too, which only costs some escapes written to it.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
