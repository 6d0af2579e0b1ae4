package ntp

import "errors"

var (
	// ErrBadPacket is returned for an NTP packet that cannot be parsed
	// or an answer that cannot be used (wrong mode or version, an
	// unsynchronised server).
	ErrBadPacket = errors.New("ntp: bad packet")
	// ErrKiss is returned when a server answers with a kiss-o'-death
	// (stratum 0: DENY, RSTR, RATE).
	ErrKiss = errors.New("ntp: kiss-o'-death")
	// ErrNoServer is returned by Client.Sync without servers.
	ErrNoServer = errors.New("ntp: no server configured")
)
