package mappertest

import (
	"context"
	"testing"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/portmgrtest"
)

// ReadyWait bounds Ready (fake time in a synctest bubble).
const ReadyWait = 5 * time.Minute

// SiteConfig is the port manager configuration of a phone at site in w:
// the world's STUN server, its TURN relay when it has one, no gateway.
// mods apply in order.
func SiteConfig(w *portmgrtest.World, site *portmgrtest.Site, mods ...func(*portmgr.Config)) portmgr.Config {
	cfg := portmgr.Config{
		Net:           site.Net,
		STUNServers:   []string{w.STUNServer().String()},
		EnableGateway: false,
	}
	if w.TURN != nil {
		cfg.TURN = portmgr.TURNConfig{Server: w.TURNServerAddr().String(),
			Username: portmgrtest.TURNUser, Password: portmgrtest.TURNPass}
	}
	for _, f := range mods {
		if f != nil {
			f(&cfg)
		}
	}
	return cfg
}

// NewManager starts a port manager with cfg and closes it when the test
// ends (after the cleanups registered later, such as a UA's on top).
func NewManager(t testing.TB, cfg portmgr.Config) *portmgr.Manager {
	t.Helper()
	m, err := portmgr.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// Ready waits for the manager's start-up discovery (SIP address,
// gateway, NAT behaviour, warm pool), at most ReadyWait.
func Ready(t testing.TB, m *portmgr.Manager) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyWait)
	defer cancel()
	if err := m.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

// Pump drains an event channel (a UA's Events, a Manager's) into a
// buffer of its own as the events come, so the producer never waits on
// the test, and lets the test wait a bounded time for a matching one.
type Pump[E any] struct {
	c    chan E
	done chan struct{}
}

// NewPump starts copying src into a buffer of n events; each, when not
// nil, sees every event first, on the pump's goroutine (the wiring a
// daemon does, e.g. passing what the registrar saw to the port manager).
// The pump ends when src is closed; Done says when.
func NewPump[E any](src <-chan E, n int, each func(E)) *Pump[E] {
	p := &Pump[E]{c: make(chan E, n), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for ev := range src {
			if each != nil {
				each(ev)
			}
			p.c <- ev
		}
	}()
	return p
}

// C is the buffered events.
func (p *Pump[E]) C() <-chan E { return p.c }

// Done is closed when the source channel has been closed and drained.
func (p *Pump[E]) Done() <-chan struct{} { return p.done }

// Next returns the first buffered or coming event that f accepts,
// dropping the ones before it; ok is false when none came within d (fake
// time in a synctest bubble).
func (p *Pump[E]) Next(d time.Duration, f func(E) bool) (ev E, ok bool) {
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for {
		select {
		case ev := <-p.c:
			if f(ev) {
				return ev, true
			}
		case <-timeout.C:
			return ev, false
		}
	}
}
