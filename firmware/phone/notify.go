package phone

import "sync"

// Notify asks the phone to signal c whenever its Status may have changed
// (after every snapshot it publishes: a call event, a key, a setting).
// The signal is a hint to re-read Status, not a copy of it: the phone
// never blocks on c, so a reader that is busy misses nothing but the
// repeats, which coalesce in c's buffer (give c a buffer of one). Call
// Stop with the same channel to end the signals. c is never closed.
//
// It lets a screen redraw on change instead of polling Status.
func (p *Phone) Notify(c chan<- struct{}) {
	p.notify.mu.Lock()
	defer p.notify.mu.Unlock()
	p.notify.subs = append(p.notify.subs, c)
}

// Stop ends the signals Notify started for c.
func (p *Phone) Stop(c chan<- struct{}) {
	p.notify.mu.Lock()
	defer p.notify.mu.Unlock()
	for i, s := range p.notify.subs {
		if s == c {
			p.notify.subs = append(p.notify.subs[:i], p.notify.subs[i+1:]...)
			return
		}
	}
}

// notifier holds the channels Notify registered.
type notifier struct {
	mu   sync.Mutex // guards following
	subs []chan<- struct{}
}

// signal tells every subscriber, without blocking, that the snapshot
// changed.
func (n *notifier) signal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
