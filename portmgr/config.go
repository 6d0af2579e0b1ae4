package portmgr

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/pion/transport/v4"
)

// Range is an inclusive range of UDP ports.
type Range struct {
	Min, Max uint16
}

// Size is the number of ports in the range.
func (r Range) Size() int { return int(r.Max) - int(r.Min) + 1 }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

func (r Range) overlaps(o Range) bool { return r.Min <= o.Max && o.Min <= r.Max }

// Default port ranges: SIP on 5060 and the next few ports, media on
// 16384..16482 (50 even/odd pairs), as common desk phones do.
var (
	DefaultSIPRange   = Range{Min: 5060, Max: 5069}
	DefaultMediaRange = Range{Min: 16384, Max: 16483}
)

// Config configures a Manager. The zero value of every field but Net has
// a documented default.
type Config struct {
	// Net is where sockets come from: stdnet on a device, vnet in tests.
	// Required.
	Net transport.Net
	// BindAddr is the local IP to bind. Zero means: learn the interface
	// address that routes to the remote (unspecified bind).
	BindAddr netip.Addr
	// SIPPorts and MediaPorts are the port ranges (RTC's
	// MinSipDynamicPort..MaxSipDynamicPort, MinMediaPort..MaxMediaPort).
	// Zero means DefaultSIPRange / DefaultMediaRange.
	SIPPorts, MediaPorts Range
	// StaticExternal, when valid, is a configured public IP: a configured
	// value wins over every discovery. The port is the local port.
	StaticExternal netip.Addr
	// Logger receives the manager's logs; nil discards.
	Logger *slog.Logger
}

// ValidateRanges checks the port ranges as RTC did: 1024..65535, min <
// max, no overlap, a SIP range of at least 2 ports and a media range of at
// least 4.
func ValidateRanges(sip, media Range) error {
	check := func(name string, r Range, least int) error {
		if r.Min < 1024 {
			return fmt.Errorf("%w: %s range %s: ports below 1024 are reserved", ErrBadRange, name, r)
		}
		if r.Min >= r.Max {
			return fmt.Errorf("%w: %s range %s: min must be less than max", ErrBadRange, name, r)
		}
		if r.Size() < least {
			return fmt.Errorf("%w: %s range %s: needs at least %d ports", ErrBadRange, name, r, least)
		}
		return nil
	}
	if err := check("sip", sip, 2); err != nil {
		return err
	}
	if err := check("media", media, 4); err != nil {
		return err
	}
	if sip.overlaps(media) {
		return fmt.Errorf("%w: sip range %s overlaps media range %s", ErrBadRange, sip, media)
	}
	return nil
}
