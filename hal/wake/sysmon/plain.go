//go:build !sysmonsleep

package sysmon

import "time"

const available = false

func setIdleSleep(time.Duration) (time.Duration, error) { return RuntimeDefault, ErrUnavailable }

func idleSleep() time.Duration { return RuntimeDefault }
