package portmgr

import "errors"

var (
	// ErrNoLocalAddress means no usable local IP was found: the route to
	// the far end gives no source address (or there is no route), and
	// neither the SIP flow nor any interface has an address to use.
	ErrNoLocalAddress = errors.New("portmgr: no usable local address")
	// ErrExhausted means every port of a range is in use.
	ErrExhausted = errors.New("portmgr: port range exhausted")
	// ErrClosed means the manager or mapping was closed.
	ErrClosed = errors.New("portmgr: closed")
	// ErrUnknownMapping means the mapping was not made by this manager or was released.
	ErrUnknownMapping = errors.New("portmgr: unknown mapping")
	// ErrManaged means a Manager's mapping was asked to change from
	// outside the Manager (SetAddrs).
	ErrManaged = errors.New("portmgr: mapping is owned by a Manager")
	// ErrBadRange means a port range failed validation.
	ErrBadRange = errors.New("portmgr: bad port range")
)
