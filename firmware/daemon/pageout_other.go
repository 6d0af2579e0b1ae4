//go:build !linux

package daemon

// pageOutCode does nothing where there is no MADV_PAGEOUT.
func pageOutCode(bool) (int64, error) { return 0, nil }
