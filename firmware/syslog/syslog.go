package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Facilities by name (RFC 5424 §6.2.1, table 1).
var Facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Defaults for the Config's zero values.
const (
	DefaultPort      = "514"
	DefaultQueueLen  = 256
	DefaultRetryMin  = time.Second
	DefaultRetryMax  = 30 * time.Second
	DefaultAppName   = "phoned"
	DefaultFacility  = "user"
	DefaultTransport = "udp"
	// MaxUDPMessage bounds a datagram (RFC 5426 §3.2: receivers should
	// take 2048 octets); MaxTCPMessage a framed message. Longer messages
	// are cut.
	MaxUDPMessage = 2048
	MaxTCPMessage = 8192
	// writeTimeout bounds one write and dialTimeout one connection
	// attempt; closeFlush bounds sending what is queued at Close.
	writeTimeout = 5 * time.Second
	dialTimeout  = 5 * time.Second
	closeFlush   = time.Second
)

// ErrConfig is wrapped by New's errors about its Config.
var ErrConfig = errors.New("syslog: bad config")

// Config configures a Handler.
type Config struct {
	// Server is host:port of the syslog server (the port defaults to
	// 514). Required.
	Server string
	// Transport is "udp" (default) or "tcp".
	Transport string
	// Facility is a name of Facilities (default "user").
	Facility string
	// Level is the lowest level sent (nil: INFO).
	Level slog.Leveler
	// Hostname and AppName fill the header (defaults: os.Hostname,
	// "phoned").
	Hostname, AppName string
	// QueueLen is how many messages wait for the network at most
	// (default 256); more are dropped.
	QueueLen int
	// RetryMin and RetryMax bound the pause before reconnecting.
	RetryMin, RetryMax time.Duration
	// Dial connects (nil: net.Dialer); tests pass their own.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Stats count what the handler did.
type Stats struct {
	// Sent messages, Dropped because the queue was full, write and dial
	// Errors.
	Sent, Dropped, Errors uint64
	// Connected: the sender holds a connection (for UDP: a socket).
	Connected bool
}

// Handler is a slog.Handler that sends records to the server. Its
// WithAttrs and WithGroup handlers share its queue and connection.
type Handler struct {
	text slog.Handler // formats a record into one line for core
	core *core
}

// core is the queue and the sender, shared by a Handler and its
// derivatives.
type core struct {
	cfg    Config
	prefix string // "<" is added per message; this is " HOSTNAME APP PROCID - - "
	fac    int
	max    int
	queue  chan []byte

	sent, dropped, errs atomic.Uint64
	connected           atomic.Bool

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New starts a Handler's sender. Close stops it.
func New(cfg Config) (*Handler, error) {
	if cfg.Server == "" {
		return nil, fmt.Errorf("%w: no server", ErrConfig)
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		cfg.Server = net.JoinHostPort(strings.Trim(cfg.Server, "[]"), DefaultPort)
	}
	if cfg.Transport == "" {
		cfg.Transport = DefaultTransport
	}
	if cfg.Transport != "udp" && cfg.Transport != "tcp" {
		return nil, fmt.Errorf("%w: transport %q is not udp or tcp", ErrConfig, cfg.Transport)
	}
	if cfg.Facility == "" {
		cfg.Facility = DefaultFacility
	}
	fac, ok := Facilities[cfg.Facility]
	if !ok {
		return nil, fmt.Errorf("%w: unknown facility %q", ErrConfig, cfg.Facility)
	}
	if cfg.Level == nil {
		cfg.Level = slog.LevelInfo
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	if cfg.AppName == "" {
		cfg.AppName = DefaultAppName
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(DefaultRetryMax, cfg.RetryMin)
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: dialTimeout}
		cfg.Dial = d.DialContext
	}
	c := &core{
		cfg: cfg, fac: fac, max: MaxUDPMessage, queue: make(chan []byte, cfg.QueueLen),
		done: make(chan struct{}),
		prefix: " " + headerField(cfg.Hostname, 255) + " " + headerField(cfg.AppName, 48) + " " +
			strconv.Itoa(os.Getpid()) + " - - ",
	}
	if cfg.Transport == "tcp" {
		c.max = MaxTCPMessage
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	text := slog.NewTextHandler(c, &slog.HandlerOptions{Level: cfg.Level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
			// RFC 5424 §6.2.3: RFC 3339 in UTC, at most 6 fraction digits.
			return slog.String(slog.TimeKey, a.Value.Time().UTC().Format("2006-01-02T15:04:05.000000Z"))
		}
		return a
	}})
	return &Handler{text: text, core: c}, nil
}

// headerField makes s a header field: printable US-ASCII without spaces,
// at most n characters, "-" (the NILVALUE) when empty.
func headerField(s string, n int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < n; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// Enabled reports whether level is sent.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.text.Enabled(ctx, l) }

// Handle formats r and queues it; it never waits for the network.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error { return h.text.Handle(ctx, r) }

// WithAttrs returns a Handler adding attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{text: h.text.WithAttrs(attrs), core: h.core}
}

// WithGroup returns a Handler putting later attributes in a group.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{text: h.text.WithGroup(name), core: h.core}
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	c := h.core
	return Stats{Sent: c.sent.Load(), Dropped: c.dropped.Load(), Errors: c.errs.Load(), Connected: c.connected.Load()}
}

// Close sends what is queued (for a second at most, without
// reconnecting), closes the connection and stops the sender. It is
// idempotent; records handled after it are dropped.
func (h *Handler) Close() error {
	c := h.core
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
	})
	return nil
}

// Write takes one line of slog's text handler ("time=T level=L rest\n"),
// builds the RFC 5424 message and queues it. It always succeeds, so that
// the text handler never reports an error for a dropped message.
func (c *core) Write(line []byte) (int, error) {
	n := len(line)
	if c.ctx.Err() != nil {
		c.dropped.Add(1)
		return n, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	ts := "-"
	if v, rest, ok := field(line, "time="); ok {
		ts, line = string(v), rest
	}
	sev := 6
	if v, rest, ok := field(line, "level="); ok {
		sev, line = severity(string(v)), rest
	}
	msg := make([]byte, 0, len(line)+len(ts)+len(c.prefix)+8)
	msg = append(msg, '<')
	msg = strconv.AppendInt(msg, int64(c.fac*8+sev), 10)
	msg = append(msg, ">1 "...)
	msg = append(msg, ts...)
	msg = append(msg, c.prefix...)
	msg = append(msg, line...)
	if len(msg) > c.max {
		msg = msg[:c.max]
	}
	select {
	case c.queue <- msg:
	default:
		c.dropped.Add(1)
	}
	return n, nil
}

// field cuts "key=value " off the front of line.
func field(line []byte, key string) (v, rest []byte, ok bool) {
	if !bytes.HasPrefix(line, []byte(key)) {
		return nil, line, false
	}
	v, rest, _ = bytes.Cut(line[len(key):], []byte(" "))
	return v, rest, true
}

// severity maps a slog level name ("INFO", "WARN+2") to RFC 5424's.
func severity(level string) int {
	switch {
	case strings.HasPrefix(level, "DEBUG"):
		return 7
	case strings.HasPrefix(level, "INFO"):
		return 6
	case strings.HasPrefix(level, "WARN"):
		return 4
	case level == "ERROR":
		return 3
	case strings.HasPrefix(level, "ERROR"):
		return 2 // above ERROR: critical
	}
	return 5
}

// run is the sender: connect, then send queued messages until a write
// fails; then wait and connect again. A message whose write failed is
// sent again on the next connection.
func (c *core) run() {
	defer close(c.done)
	pause := c.cfg.RetryMin
	var pending []byte
	for {
		conn, err := c.cfg.Dial(c.ctx, c.cfg.Transport, c.cfg.Server)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.errs.Add(1)
			if !c.wait(&pause) {
				return
			}
			continue
		}
		c.connected.Store(true)
		pause = c.cfg.RetryMin
		pending, err = c.send(conn, pending)
		c.connected.Store(false)
		_ = conn.Close()
		if err == nil || c.ctx.Err() != nil { // closed
			return
		}
		c.errs.Add(1)
		if !c.wait(&pause) {
			return
		}
	}
}

// wait pauses before the next connection attempt, doubling the pause;
// false when the handler closed meanwhile.
func (c *core) wait(pause *time.Duration) bool {
	t := time.NewTimer(*pause)
	defer t.Stop()
	*pause = min(2**pause, c.cfg.RetryMax)
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// send writes pending, then every queued message, to conn. It returns
// nil when the handler closed (after flushing), or the write error and
// the message that failed.
func (c *core) send(conn net.Conn, pending []byte) ([]byte, error) {
	tcp := c.cfg.Transport == "tcp"
	var frame []byte
	write := func(msg []byte, deadline time.Time) error {
		_ = conn.SetWriteDeadline(deadline)
		b := msg
		if tcp {
			// RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG.
			frame = strconv.AppendInt(frame[:0], int64(len(msg)), 10)
			frame = append(frame, ' ')
			frame = append(frame, msg...)
			b = frame
		}
		if _, err := conn.Write(b); err != nil {
			return err
		}
		c.sent.Add(1)
		return nil
	}
	if pending != nil {
		if err := write(pending, time.Now().Add(writeTimeout)); err != nil {
			return pending, err
		}
	}
	for {
		select {
		case msg := <-c.queue:
			if err := write(msg, time.Now().Add(writeTimeout)); err != nil {
				return msg, err
			}
		case <-c.ctx.Done():
			deadline := time.Now().Add(closeFlush)
			for {
				select {
				case msg := <-c.queue:
					if write(msg, deadline) != nil {
						return nil, nil
					}
				default:
					return nil, nil
				}
			}
		}
	}
}
