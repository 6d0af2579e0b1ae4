package resolve

import "errors"

var (
	// ErrNoServer means no DNS server is configured: Config.Servers is
	// empty and the resolver configuration names none.
	ErrNoServer = errors.New("resolve: no DNS server configured")
	// ErrNotFound means the name has no usable record: no NAPTR or SRV
	// for a transport we support and no A/AAAA record.
	ErrNotFound = errors.New("resolve: no address found")
	// ErrBadQuery means the query cannot be resolved as asked (an empty
	// host, a transport we do not support, sips over UDP).
	ErrBadQuery = errors.New("resolve: bad query")
	// ErrBadServer means a configured DNS server address does not parse.
	ErrBadServer = errors.New("resolve: bad DNS server address")
)
