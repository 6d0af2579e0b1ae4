package initd

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// fakeProc exits when told (run) or on a signal it is set to obey.
type fakeProc struct {
	exit    chan error
	signals chan os.Signal
	obey    bool // exit on SIGTERM
}

func (p *fakeProc) Wait() error { return <-p.exit }
func (p *fakeProc) Signal(sig os.Signal) error {
	p.signals <- sig
	if sig == syscall.SIGKILL || p.obey {
		p.exit <- errors.New("signalled")
	}
	return nil
}

// TestSupervisorBackoff: a child that crashes at once is restarted after
// 1, 2, 4, 8 s (doubling); one that ran for StableAfter restarts after
// the minimum again; on cancel a child that ignores SIGTERM is killed
// after StopTimeout.
func TestSupervisorBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		procs := make(chan *fakeProc, 16)
		var startTimes []time.Time
		s := &Supervisor{
			StableAfter: 30 * time.Second, StopTimeout: 5 * time.Second,
			Start: func() (Process, error) {
				p := &fakeProc{exit: make(chan error, 2), signals: make(chan os.Signal, 2)}
				startTimes = append(startTimes, time.Now())
				procs <- p
				return p, nil
			},
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		go func() { done <- s.Run(ctx) }()
		for range 4 {
			(<-procs).exit <- errors.New("crash")
		}
		// The fifth runs for 40 s (stable), then crashes.
		p := <-procs
		time.Sleep(40 * time.Second)
		p.exit <- errors.New("crash")
		p = <-procs // sixth
		cancel()
		if sig := <-p.signals; sig != syscall.SIGTERM {
			t.Fatalf("first signal %v", sig)
		}
		if sig := <-p.signals; sig != syscall.SIGKILL {
			t.Fatalf("second signal %v", sig)
		}
		if n := <-done; n != 6 {
			t.Fatalf("%d starts", n)
		}
		var gaps []time.Duration
		for i := 1; i < len(startTimes); i++ {
			gaps = append(gaps, startTimes[i].Sub(startTimes[i-1]))
		}
		want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 41 * time.Second}
		for i := range want {
			if gaps[i] != want[i] {
				t.Fatalf("gaps %v, want %v", gaps, want)
			}
		}
	})
}

// TestSupervisorGracefulStop: a child that obeys SIGTERM is not killed;
// a Start error is retried.
func TestSupervisorGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fails := 2
		p := &fakeProc{exit: make(chan error, 2), signals: make(chan os.Signal, 2), obey: true}
		started := make(chan int, 4)
		s := &Supervisor{
			Start: func() (Process, error) {
				if fails > 0 {
					fails--
					return nil, errors.New("no binary")
				}
				return p, nil
			},
			Started: func(n int) { started <- n },
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		go func() { done <- s.Run(ctx) }()
		<-started
		cancel()
		if n := <-done; n != 1 {
			t.Fatalf("%d starts", n)
		}
		if len(p.signals) != 1 {
			t.Fatalf("%d signals, want SIGTERM only", len(p.signals))
		}
	})
}

// TestSupervisorExitedStops: an exit the Exited hook claims ends Run
// without a restart.
func TestSupervisorExitedStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProc{exit: make(chan error, 1), signals: make(chan os.Signal, 1)}
		var seen error
		s := &Supervisor{
			Start:  func() (Process, error) { return p, nil },
			Exited: func(err error) bool { seen = err; return err.Error() == "reset" },
		}
		p.exit <- errors.New("reset")
		if n := s.Run(t.Context()); n != 1 || seen == nil {
			t.Fatalf("%d starts, exit %v", n, seen)
		}
	})
}
