//go:build !linux

package daemon

// pageOutCode does nothing where there is no MADV_PAGEOUT.
func pageOutCode() int64 { return 0 }
