package ntp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// An SNTP client (RFC 4330; the client mode of NTPv4, RFC 5905): one
// request, one answer, the offset of the local clock computed from the
// four timestamps, and the clock stepped when it is off by more than a
// threshold. A phone needs the time for TLS certificates, call logs and
// SIP Date headers; a Raspberry Pi has no battery-backed clock and starts
// in 1970.
//
// The packet (RFC 5905 section 7.3, figure 8), 48 bytes without
// extensions:
//
//	 0                   1                   2                   3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|LI | VN  |Mode |    Stratum    |     Poll      |  Precision    |
//	|                         Root Delay                            |
//	|                       Root Dispersion                         |
//	|                     Reference ID                              |
//	|                   Reference Timestamp (64)                    |
//	|                   Origin Timestamp (64)                       |
//	|                   Receive Timestamp (64)                      |
//	|                   Transmit Timestamp (64)                     |
//
// Timestamps are seconds since 1900-01-01 (32 bits) and a binary
// fraction (32 bits). The client puts a random nonce in its Transmit
// Timestamp; the server copies it into Origin, which is how the answer is
// matched to the request (RFC 5905 section 8, RFC 4330 section 5).

// NTP packet constants.
const (
	ntpLen        = 48
	ntpVersion    = 4
	ntpModeClient = 3
	ntpModeServer = 4
	ntpPort       = "123"
	// ntpLIAlarm is the leap indicator of an unsynchronised server.
	ntpLIAlarm = 3
)

// ntpEpoch is 1900-01-01 in Unix seconds (era 0).
const ntpEpoch = -2208988800

// Packet is the part of an NTP packet the client uses.
type Packet struct {
	Leap, Version, Mode byte
	Stratum             byte
	// RefID is the reference ID; with stratum 0 it is a kiss code
	// ("DENY", "RSTR", "RATE").
	RefID [4]byte
	// Origin, Receive and Transmit are the raw 64-bit timestamps.
	Origin, Receive, Transmit uint64
}

// Parse decodes an NTP packet. It never panics; a packet shorter than
// 48 bytes is an error wrapping ErrBadPacket. Extension fields and a MAC
// after the header are ignored.
func Parse(b []byte) (*Packet, error) {
	if len(b) < ntpLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadPacket, len(b))
	}
	p := &Packet{
		Leap: b[0] >> 6, Version: b[0] >> 3 & 7, Mode: b[0] & 7, Stratum: b[1],
		Origin:   binary.BigEndian.Uint64(b[24:]),
		Receive:  binary.BigEndian.Uint64(b[32:]),
		Transmit: binary.BigEndian.Uint64(b[40:]),
	}
	copy(p.RefID[:], b[12:16])
	return p, nil
}

// Marshal encodes p (48 bytes; the fields Packet does not hold are
// zero).
func (p *Packet) Marshal() []byte {
	b := make([]byte, ntpLen)
	b[0] = p.Leap<<6 | (p.Version&7)<<3 | p.Mode&7
	b[1] = p.Stratum
	copy(b[12:16], p.RefID[:])
	binary.BigEndian.PutUint64(b[24:], p.Origin)
	binary.BigEndian.PutUint64(b[32:], p.Receive)
	binary.BigEndian.PutUint64(b[40:], p.Transmit)
	return b
}

// Time converts an NTP timestamp to a time. The 32-bit seconds wrap
// in 2036: as RFC 4330 section 3 suggests, a value with the top bit clear
// is taken to be in era 1 (2036-2104), one with it set in era 0
// (1968-2036).
func Time(ts uint64) time.Time {
	sec := int64(ts >> 32)
	if sec&0x80000000 == 0 {
		sec += 1 << 32
	}
	frac := int64(ts & 0xffffffff)
	return time.Unix(sec+ntpEpoch, frac*1e9>>32).UTC()
}

// Timestamp converts a time (1968..2104) to an NTP timestamp.
func Timestamp(t time.Time) uint64 {
	sec := t.Unix() - ntpEpoch
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint64(sec)<<32 | frac
}

// Sample is the result of one exchange.
type Sample struct {
	Server string
	// Offset is how far the local clock is behind the server's (add it
	// to the local time); Delay the round trip minus the server's time.
	Offset, Delay time.Duration
	Stratum       byte
}

// Client keeps the clock set from a list of servers.
type Client struct {
	// Servers are "host" or "host:port" (port 123 by default), tried in
	// order. None: Sync fails with ErrNoServer and Run returns.
	Servers []string
	// Dial opens a UDP association to "host:port" (default: a
	// net.Dialer on "udp").
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// Now reads the local clock (default time.Now).
	Now func() time.Time
	// SetClock steps the clock to t (default: clock_settime(2) of
	// CLOCK_REALTIME on Linux).
	SetClock func(t time.Time) error
	// Slew, when set, is given offsets too small to step, to adjust the
	// clock gradually (adjtime(3)); nil leaves them.
	Slew func(offset time.Duration) error
	// Step is the offset above which the clock is stepped (default
	// 128 ms, RFC 5905's step threshold).
	Step time.Duration
	// Timeout is the wait for one answer (default 2 s); Tries the
	// requests per server in one Sync (default 3).
	Timeout time.Duration
	Tries   int
	// Interval is the time between syncs in Run (default 1 h); after a
	// failed Sync Run retries after 8 s, doubling up to Interval.
	Interval time.Duration
	Logger   *slog.Logger
}

func (c *Client) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Query makes one exchange with server (host or host:port) and returns
// the sample. It does not touch the clock. An answer that is not for
// this request (other origin), not from a server, from an unsynchronised
// server, or a kiss-o'-death is an error; stray packets are skipped.
func (c *Client) Query(ctx context.Context, server string) (Sample, error) {
	addr := server
	if _, _, err := net.SplitHostPort(server); err != nil {
		addr = net.JoinHostPort(server, ntpPort)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := c.Dial
	if dial == nil {
		dial = func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		}
	}
	conn, err := dial(ctx, addr)
	if err != nil {
		return Sample{}, fmt.Errorf("ntp %s: %w", server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	req := &Packet{Version: ntpVersion, Mode: ntpModeClient, Transmit: binary.BigEndian.Uint64(nonce[:])}
	t1 := c.now()
	if _, err := conn.Write(req.Marshal()); err != nil {
		return Sample{}, fmt.Errorf("ntp %s: %w", server, err)
	}
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return Sample{}, fmt.Errorf("ntp %s: %w", server, ctx.Err())
			}
			return Sample{}, fmt.Errorf("ntp %s: %w", server, err)
		}
		t4 := c.now()
		p, err := Parse(buf[:n])
		if err != nil || p.Origin != req.Transmit {
			continue // not the answer to this request
		}
		return sampleFrom(server, p, t1, t4)
	}
}

// sampleFrom checks an answer and computes offset and delay (RFC 5905
// section 8): offset = ((T2-T1) + (T3-T4)) / 2, delay = (T4-T1) -
// (T3-T2), with T1 and T4 the local send and receive times, T2 and T3
// the server's receive and transmit times.
func sampleFrom(server string, p *Packet, t1, t4 time.Time) (Sample, error) {
	switch {
	case p.Mode != ntpModeServer:
		return Sample{}, fmt.Errorf("%w: %s: mode %d", ErrBadPacket, server, p.Mode)
	case p.Version < 3 || p.Version > 4:
		return Sample{}, fmt.Errorf("%w: %s: version %d", ErrBadPacket, server, p.Version)
	case p.Stratum == 0:
		return Sample{}, fmt.Errorf("%w: %s: kiss code %q", ErrKiss, server, p.RefID[:])
	case p.Stratum > 15 || p.Leap == ntpLIAlarm:
		return Sample{}, fmt.Errorf("%w: %s: not synchronised (stratum %d, leap %d)", ErrBadPacket, server, p.Stratum, p.Leap)
	case p.Transmit == 0 || p.Receive == 0:
		return Sample{}, fmt.Errorf("%w: %s: zero timestamp", ErrBadPacket, server)
	}
	t2, t3 := Time(p.Receive), Time(p.Transmit)
	delay := t4.Sub(t1) - t3.Sub(t2)
	if delay < 0 {
		delay = 0
	}
	return Sample{Server: server, Offset: (t2.Sub(t1) + t3.Sub(t4)) / 2, Delay: delay, Stratum: p.Stratum}, nil
}

// Sync asks the servers in order, each up to Tries times, until one
// answers, then steps the clock when the offset exceeds Step (or hands a
// smaller one to Slew) and logs it. A server that sends a kiss-o'-death
// is not asked again in this Sync.
func (c *Client) Sync(ctx context.Context) (Sample, error) {
	if len(c.Servers) == 0 {
		return Sample{}, ErrNoServer
	}
	tries := c.Tries
	if tries <= 0 {
		tries = 3
	}
	step := c.Step
	if step <= 0 {
		step = 128 * time.Millisecond
	}
	var errs []error
	for _, srv := range c.Servers {
		for range tries {
			s, err := c.Query(ctx, srv)
			if err != nil {
				errs = append(errs, err)
				if ctx.Err() != nil {
					return Sample{}, errors.Join(errs...)
				}
				if errors.Is(err, ErrKiss) {
					break
				}
				continue
			}
			return s, c.apply(s, step)
		}
	}
	return Sample{}, errors.Join(errs...)
}

func (c *Client) apply(s Sample, step time.Duration) error {
	log := c.log()
	if s.Offset > step || s.Offset < -step {
		set := c.SetClock
		if set == nil {
			set = setClock
		}
		if err := set(c.now().Add(s.Offset)); err != nil {
			return fmt.Errorf("ntp: set clock: %w", err)
		}
		log.Info("clock stepped", "server", s.Server, "offset", s.Offset, "delay", s.Delay, "stratum", s.Stratum)
		return nil
	}
	if c.Slew != nil {
		if err := c.Slew(s.Offset); err != nil {
			return fmt.Errorf("ntp: slew clock: %w", err)
		}
	}
	log.Info("clock in sync", "server", s.Server, "offset", s.Offset, "delay", s.Delay, "stratum", s.Stratum)
	return nil
}

// Run syncs at once, then every Interval, until ctx is done; a failed
// sync is retried after 8 s, doubling up to Interval. synced (may be nil)
// is called after each successful sync. Without servers it returns at
// once.
func (c *Client) Run(ctx context.Context, synced func(Sample)) {
	if len(c.Servers) == 0 {
		return
	}
	interval := c.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	retry := 8 * time.Second
	for {
		wait := interval
		s, err := c.Sync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log().Warn("time sync failed", "err", err, "retry_in", retry)
			wait = retry
			retry = min(2*retry, interval)
		} else {
			retry = 8 * time.Second
			if synced != nil {
				synced(s)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
