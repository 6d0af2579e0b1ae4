package sip

import (
	"sync"
	"time"
)

// Event is what the UA reports: *RegistrationEvent, *IncomingCallEvent,
// *CallEvent or *DTMFEvent.
type Event interface{ event() }

// RegistrationEvent reports a change of the registration state.
type RegistrationEvent struct {
	Status RegStatus
}

// IncomingCallEvent reports a new incoming call; it is already ringing
// (180 sent). Answer or Reject it.
type IncomingCallEvent struct {
	Call *Call
}

// CallEvent reports a change in a call: a new state, early media, hold,
// or the end of the call (State == StateEnded, with Code and Reason).
type CallEvent struct {
	Call  *Call
	State CallState
	// Code and Reason are the SIP status that caused the change (for
	// example 180 Ringing, 486 Busy Here), zero when local.
	Code   int
	Reason string
	// EarlyMedia is true when the far end's audio is playing before the
	// answer (183 with SDP): stop local ringback.
	EarlyMedia bool
	// LocalHold and RemoteHold are the hold state after the change.
	LocalHold, RemoteHold bool
}

// DTMFEvent reports a digit received from the far end.
type DTMFEvent struct {
	Call     *Call
	Digit    rune
	Duration time.Duration
	// Source is "rfc4733" or "info".
	Source string
}

func (*RegistrationEvent) event() {}
func (*IncomingCallEvent) event() {}
func (*CallEvent) event()         {}
func (*DTMFEvent) event()         {}

// eventQueue delivers events in order without ever blocking the
// producer: a bounded queue in front of an unbuffered channel, drained
// by one goroutine. When the queue is full the oldest event is dropped.
type eventQueue struct {
	out  chan Event
	wake chan struct{}
	done chan struct{}
	max  int

	mu      sync.Mutex // guards following
	q       []Event
	dropped uint64
	closed  bool
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{
		out:  make(chan Event),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
		max:  max,
	}
}

func (e *eventQueue) push(ev Event) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	if len(e.q) >= e.max {
		e.q[0] = nil // the backing array would hold it (and its call) on
		e.q = e.q[1:]
		e.dropped++
	}
	e.q = append(e.q, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run forwards queued events until close; then it delivers nothing more
// and closes out.
func (e *eventQueue) run() {
	defer close(e.out)
	for {
		e.mu.Lock()
		var ev Event
		if len(e.q) > 0 {
			ev = e.q[0]
			e.q[0] = nil
			e.q = e.q[1:]
		}
		e.mu.Unlock()
		if ev == nil {
			select {
			case <-e.wake:
				continue
			case <-e.done:
				return
			}
		}
		select {
		case e.out <- ev:
		case <-e.done:
			return
		}
	}
}

func (e *eventQueue) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	close(e.done)
}

func (e *eventQueue) droppedCount() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}
