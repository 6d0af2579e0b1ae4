//go:build !linux

package ntp

import (
	"errors"
	"time"
)

// setClock is only implemented on Linux.
func setClock(time.Time) error { return errors.ErrUnsupported }
