package boot

import "errors"

var (
	// ErrNoPartition is returned when a partition is not found by name.
	ErrNoPartition = errors.New("boot: partition not found")
	// ErrBadSlot is returned when a root slot does not hold the image
	// its record or manifest names.
	ErrBadSlot = errors.New("boot: root slot does not verify")
)
