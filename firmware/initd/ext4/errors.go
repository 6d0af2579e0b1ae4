package ext4

import "errors"

// ErrSize is returned when a partition is too small or too large for the
// filesystem Format makes.
var ErrSize = errors.New("ext4: partition size unsuitable for the data filesystem")
