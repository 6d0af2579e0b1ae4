package flash

import "errors"

var (
	// ErrUnsafeTarget is returned for a device that is mounted, holds a
	// mounted partition, or is the disk the system runs from.
	ErrUnsafeTarget = errors.New("flash: refusing to write a mounted or system disk")
	// ErrVerify is returned when the read-back differs from the image.
	ErrVerify = errors.New("flash: read-back verification failed")
	// ErrRolledBack is returned by Push when the phone came back on its
	// previous version.
	ErrRolledBack = errors.New("flash: the phone rolled back to the previous version")
	// ErrPushRefused is returned when the phone refused an update.
	ErrPushRefused = errors.New("flash: the phone refused the update")
	// ErrNotBack is returned when the phone did not come back in time.
	ErrNotBack = errors.New("flash: the phone did not come back in time")
)
