package initd

import "errors"

var (
	// ErrFSSize is returned when a partition is too small or too large
	// for the filesystem FormatExt4 makes.
	ErrFSSize = errors.New("initd: partition size unsuitable for the data filesystem")
	// ErrNoPartition is returned when a partition is not found by name.
	ErrNoPartition = errors.New("initd: partition not found")
	// ErrBadSlot is returned when a root slot does not hold the image
	// its record or manifest names.
	ErrBadSlot = errors.New("initd: root slot does not verify")
	// ErrBadDHCP is returned for a DHCP packet that cannot be parsed.
	ErrBadDHCP = errors.New("initd: bad DHCP packet")
	// ErrNoLease is returned when no DHCP server answered in time.
	ErrNoLease = errors.New("initd: no DHCP lease")
	// ErrLeaseLost is returned by DHCPClient.Keep when the lease ran out
	// or a server refused it: the address must be dropped.
	ErrLeaseLost = errors.New("initd: DHCP lease lost")
)

var (
	// ErrBadNTP is returned for an NTP packet that cannot be parsed or
	// an answer that cannot be used (wrong mode or version, an
	// unsynchronised server).
	ErrBadNTP = errors.New("initd: bad NTP packet")
	// ErrNTPKiss is returned when a server answers with a
	// kiss-o'-death (stratum 0: DENY, RSTR, RATE).
	ErrNTPKiss = errors.New("initd: NTP kiss-o'-death")
	// ErrNoNTPServer is returned by NTPClient.Sync without servers.
	ErrNoNTPServer = errors.New("initd: no NTP server configured")
)
