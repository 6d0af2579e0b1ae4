package sip

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/deskphone/phone/portmgr"
	"github.com/deskphone/phone/portmgr/mappertest"
)

// countStarts counts the SIP messages the router carried whose start
// line begins with prefix.
func countStarts(w *world, prefix string) int {
	n := 0
	for _, s := range w.sipStarts() {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// reinvited reports whether p's call c got a re-INVITE (within a second
// of fake time, all goroutines settled first).
func reinvited(t *testing.T, p *phone, c *Call) bool {
	t.Helper()
	synctest.Wait()
	_, ok := p.pump.Next(time.Second, func(e Event) bool {
		ce, ok := e.(*CallEvent)
		return ok && ce.Call == c && ce.Reason == "re-INVITE"
	})
	return ok
}

// TestHandlePortEvent: the NAT-change policy the daemon used to apply,
// now in the UA. Alice has two calls (to bob and to carol). Her SIP
// mapping changing re-REGISTERs and re-INVITEs both; one call's media
// mapping changing re-INVITEs that call only; events for mappings that
// are not hers (bob's SIP mapping, a stray media mapping) do nothing; an
// ALG report on her SIP mapping is a warning.
func TestHandlePortEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrio(t, nil)
		ab, ba := connect(t, tr.a, tr.b, "bob")
		ac, ca := connect(t, tr.a, tr.c, "carol")
		w := tr.pw.w
		a := tr.a.ua

		// Not hers: nothing goes out.
		regs, invs := countStarts(w, "REGISTER "), countStarts(w, "INVITE ")
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: tr.b.ua.mapping()})
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventFlowFailed, Mapping: tr.b.ua.mapping()})
		stray := portmgr.NewMapping(portmgr.KindMedia, portmgr.UDP, nil, nil, portmgr.Addrs{})
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: stray})
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged})
		synctest.Wait()
		if r, i := countStarts(w, "REGISTER "), countStarts(w, "INVITE "); r != regs || i != invs {
			t.Errorf("foreign events sent %d REGISTER and %d INVITE", r-regs, i-invs)
		}

		// One call's media mapping: that call only.
		ab.mu.Lock()
		mp := ab.mapping
		ab.mu.Unlock()
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventExternalChanged, Mapping: mp})
		if !reinvited(t, tr.b, ba) {
			t.Error("media mapping change: bob's call not re-INVITEd")
		}
		if reinvited(t, tr.c, ca) {
			t.Error("media mapping change of the call to bob re-INVITEd carol")
		}
		if r := countStarts(w, "REGISTER "); r != regs {
			t.Error("a media mapping change re-registered")
		}

		// Her SIP mapping: re-REGISTER and both calls re-INVITEd.
		a.HandlePortEvent(portmgr.Event{Kind: portmgr.EventFlowFailed, Mapping: a.mapping()})
		if !reinvited(t, tr.b, ba) || !reinvited(t, tr.c, ca) {
			t.Error("SIP mapping change: not every call re-INVITEd")
		}
		synctest.Wait()
		if r := countStarts(w, "REGISTER "); r <= regs {
			t.Error("SIP mapping change: no REGISTER")
		}
		for _, c := range []*Call{ab, ac} {
			if st := c.State(); st != StateTalking {
				t.Errorf("%s is %s after the refresh", c, st)
			}
		}
	})
}

// TestHandlePortEventALG: an ALG report on the UA's own SIP mapping is
// logged at WARN; one on another mapping is not.
func TestHandlePortEventALG(t *testing.T) {
	fm := &mappertest.FakeMapper{}
	t.Cleanup(func() { _ = fm.Close() })
	rec := &logRecorder{}
	ua, err := New(Config{Mapper: fm, Account: Account{User: "a"}, CloseTimeout: time.Second, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	if err := ua.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	other, err := fm.Map(context.Background(), portmgr.KindSIP, portmgr.UDP, ua.mapping().Remote())
	if err != nil {
		t.Fatal(err)
	}
	ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventALG, Mapping: other})
	if n := rec.count(slog.LevelWarn, "ALG"); n != 0 {
		t.Errorf("ALG on another UA's mapping logged %d warnings", n)
	}
	ua.HandlePortEvent(portmgr.Event{Kind: portmgr.EventALG, Mapping: ua.mapping()})
	if n := rec.count(slog.LevelWarn, "ALG"); n != 1 {
		t.Errorf("ALG on our mapping logged %d warnings, want 1", n)
	}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(level slog.Level, sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.Contains(r.Message, sub) {
			n++
		}
	}
	return n
}
