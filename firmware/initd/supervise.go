package initd

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a started child the Supervisor watches.
type Process interface {
	// Wait waits for the process to exit.
	Wait() error
	// Signal sends a signal.
	Signal(sig os.Signal) error
}

// Supervisor runs a child process and restarts it when it exits, waiting
// a back-off that doubles after each quick crash (MinBackoff up to
// MaxBackoff) and starts over once the child has run for StableAfter.
type Supervisor struct {
	// Start starts the child.
	Start func() (Process, error)
	// MinBackoff, MaxBackoff and StableAfter default to 1 s, 60 s and
	// 60 s; StopTimeout (default 10 s) bounds a graceful stop.
	MinBackoff, MaxBackoff, StableAfter, StopTimeout time.Duration
	// Started, when set, receives the count of starts so far after each
	// start (tests).
	Started func(n int)
	// Exited, when set, sees each exit; returning true ends Run without
	// a restart (the child asked for something else, e.g. a reset).
	Exited func(err error) (stop bool)
	Logger *slog.Logger
}

// Run supervises until ctx is done, then stops the child: SIGTERM (the
// phone un-registers), and SIGKILL if it has not exited within
// StopTimeout. It returns the number of starts.
func (s *Supervisor) Run(ctx context.Context) int {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minB, maxB, stable, stopT := s.MinBackoff, s.MaxBackoff, s.StableAfter, s.StopTimeout
	if minB <= 0 {
		minB = time.Second
	}
	if maxB <= 0 {
		maxB = 60 * time.Second
	}
	if stable <= 0 {
		stable = 60 * time.Second
	}
	if stopT <= 0 {
		stopT = 10 * time.Second
	}
	backoff := minB
	starts := 0
	for ctx.Err() == nil {
		began := time.Now()
		p, err := s.Start()
		if err != nil {
			log.Error("start failed", "err", err, "retry_in", backoff)
		} else {
			starts++
			log.Info("started", "starts", starts)
			if s.Started != nil {
				s.Started(starts)
			}
			exited := make(chan error, 1)
			go func() { exited <- p.Wait() }()
			select {
			case err := <-exited:
				log.Warn("exited", "err", err, "ran", time.Since(began).Round(time.Millisecond))
				if s.Exited != nil && s.Exited(err) {
					return starts
				}
			case <-ctx.Done():
				_ = p.Signal(syscall.SIGTERM)
				t := time.NewTimer(stopT)
				select {
				case err := <-exited:
					log.Info("stopped", "err", err)
				case <-t.C:
					log.Warn("did not stop in time: killing", "timeout", stopT)
					_ = p.Signal(syscall.SIGKILL)
					<-exited
				}
				t.Stop()
				return starts
			}
			if time.Since(began) >= stable {
				backoff = minB
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return starts
		}
		backoff = min(2*backoff, maxB)
	}
	return starts
}

// ExecStarter returns a Start function running path with args, its
// standard streams on ours.
func ExecStarter(path string, args, env []string) func() (Process, error) {
	return func() (Process, error) {
		cmd := exec.Command(path, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return cmdProcess{cmd}, nil
	}
}

type cmdProcess struct{ cmd *exec.Cmd }

func (c cmdProcess) Wait() error { return c.cmd.Wait() }
func (c cmdProcess) Signal(sig os.Signal) error {
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
