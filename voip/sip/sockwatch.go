package sip

import (
	"context"
	"log/slog"
)

// ownSocketHook, when set (by tests), is called on the goroutine that is
// about to make sipgo open a UDP socket of its own, before the socket is
// opened. Tests make it panic so the offending path shows in the stack
// instead of a real socket hanging a synctest bubble.
var ownSocketHook func(detail string)

// socketWatch wraps the handler of sipgo's transport-layer logger. sipgo
// logs "Creating connection" (client side) or "Creating server
// connection" (answering a request it has no connection for) at debug
// level right before it opens a socket; for UDP that breaks the rule that
// every socket comes from the port manager, so the UA counts it and logs
// an error. Everything is passed on to next at next's own level.
type socketWatch struct {
	next  slog.Handler
	onUDP func(detail string)
}

// Enabled reports debug as enabled so sipgo builds the records the watch
// looks at; Handle forwards only what next wants.
func (w *socketWatch) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelDebug || w.next.Enabled(ctx, l)
}

func (w *socketWatch) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "Creating connection" || r.Message == "Creating server connection" {
		udp := false
		detail := r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "network" && a.Value.String() == "udp" {
				udp = true
			}
			detail += " " + a.String()
			return true
		})
		if udp && w.onUDP != nil {
			w.onUDP(detail)
		}
	}
	if !w.next.Enabled(ctx, r.Level) {
		return nil
	}
	return w.next.Handle(ctx, r)
}

func (w *socketWatch) WithAttrs(as []slog.Attr) slog.Handler {
	return &socketWatch{next: w.next.WithAttrs(as), onUDP: w.onUDP}
}

func (w *socketWatch) WithGroup(name string) slog.Handler {
	return &socketWatch{next: w.next.WithGroup(name), onUDP: w.onUDP}
}
