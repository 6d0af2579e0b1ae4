package dhcp

import "errors"

var (
	// ErrBadPacket is returned for a DHCP packet that cannot be parsed.
	ErrBadPacket = errors.New("dhcp: bad packet")
	// ErrNoLease is returned when no DHCP server answered in time.
	ErrNoLease = errors.New("dhcp: no lease")
	// ErrLeaseLost is returned by Client.Keep when the lease ran out or
	// a server refused it: the address must be dropped.
	ErrLeaseLost = errors.New("dhcp: lease lost")
)
