// Command phoned is the desk phone's firmware application: it reads the
// config, opens the board, and runs the phone until SIGINT or SIGTERM.
//
//	phoned -config /data/phone.yaml
//	phoned -config demo.yaml -demo-call echo -demo-duration 10s
//
// Run as PID 1 (the /init of a firmware image's root slot) it is the
// image's init instead (package firmware/initd): it mounts the data
// partition, brings the network up, and runs itself again as the phone,
// supervised, with -config on the data partition.
//
// With -demo-call it waits for registration, calls the target, prints the
// registration, call state and RTP counters every second, hangs up after
// -demo-duration and exits 0 only when audio flowed both ways.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deskphone/phone/firmware/boardspec"
	"github.com/deskphone/phone/firmware/config"
	"github.com/deskphone/phone/firmware/daemon"
	"github.com/deskphone/phone/firmware/initd"
	"github.com/deskphone/phone/firmware/version"
	"github.com/deskphone/phone/hal/pace"
	"github.com/deskphone/phone/hal/wake"
	"github.com/deskphone/phone/hal/wake/sysmon"
)

func main() {
	if os.Getpid() == 1 {
		initd.Main() // never returns
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "phoned:", err)
		os.Exit(1)
	}
}

func run() error {
	cfgPath := flag.String("config", "phone.yaml", "config file (YAML, see docs/config.md)")
	boardName := flag.String("board", "", "board: sim, qemu or rpi (overrides the config)")
	demoCall := flag.String("demo-call", "", "demo: call this target once registered, print status, hang up, exit")
	demoDur := flag.Duration("demo-duration", 10*time.Second, "demo: how long the call lasts")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return nil
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *boardName != "" {
		cfg.Board = *boardName
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("-board: %w", err)
		}
	}
	// The board's own fields (board_options, audio) against what the
	// board and this build can do.
	if err := boardspec.Validate(cfg); err != nil {
		return err
	}
	// log.syslog: the log goes to a syslog server too (closed last, so
	// the shutdown's messages are sent).
	log, syslogH, err := daemon.TeeSyslog(cfg.Log, newLogger(cfg.Log))
	if err != nil {
		return err
	}
	if syslogH != nil {
		defer syslogH.Close()
	}
	daemon.QuietGCWhileIdle(daemon.ApplyMemoryLimit(cfg, log), log)
	daemon.ApplyProcs(log)
	daemon.SchedulePageOut(log)
	pace.UseFDClock(true) // emulated speakers' clocks wait in the poller (issue 19)
	wake.Enable(true)     // long timers (a registration refresh) fire on time while idle (issue 19)
	lengthenIdleSleep(log)
	defer startProfiles(log)()
	var keys *os.File
	if *demoCall == "" && cfg.Board == "sim" {
		keys = os.Stdin
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := daemon.Options{Config: cfg, Logger: log, ConfigPath: *cfgPath, Syslog: syslogH}
	if keys != nil {
		opts.Keys = keys
	}
	var reset atomic.Bool
	if os.Getenv(initd.EnvChild) == "1" {
		// On the device the config lives on the data partition: the call
		// history and the phonebook go beside it unless the config says
		// where, so they survive restarts and a factory reset clears them.
		dir := filepath.Dir(*cfgPath)
		if cfg.History.File == "" {
			cfg.History.File = filepath.Join(dir, "history.json")
		}
		if cfg.Phonebook.File == "" {
			cfg.Phonebook.File = filepath.Join(dir, "phonebook.yaml")
		}
		// Under initd the factory reset code ends the phone (it
		// un-registers first) with the exit code initd acts on.
		opts.ServiceCodes = map[string]func(){initd.FactoryResetCode: func() {
			reset.Store(true)
			stop()
		}}
	}
	d, err := daemon.New(opts)
	if err != nil {
		return err
	}
	log.Info("phoned starting", "version", version.Version, "board", cfg.Board, "config", *cfgPath, "lines", len(cfg.Lines()))
	if *demoCall == "" {
		err := d.Run(ctx)
		if reset.Load() {
			log.Warn("factory reset requested from the keypad")
			os.Exit(initd.ExitFactoryReset)
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()
	demoErr := demo(ctx, d, *demoCall, *demoDur)
	cancel()
	if err := <-runErr; err != nil && demoErr == nil {
		demoErr = err
	}
	return demoErr
}

func newLogger(c config.Log) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	o := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, o))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, o))
}

// demo is the `make run` scenario.
func demo(ctx context.Context, d *daemon.Daemon, target string, dur time.Duration) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for d.Status().Registration.State != "registered" {
		if time.Now().After(deadline) {
			r := d.Status().Registration
			return fmt.Errorf("demo: not registered after 15 s (state %s, %d %s)", r.State, r.Code, r.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	r := d.Status().Registration
	fmt.Printf("registered: contact %s, expires in %vs\n", r.Contact, r.ExpiresS)
	if err := d.Phone().Call(ctx, target); err != nil {
		return fmt.Errorf("demo: call %s: %w", target, err)
	}
	fmt.Printf("calling %s\n", target)
	var sent, recv uint64
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		s := d.Status()
		line := fmt.Sprintf("%-10s reg=%-10s phone=%-8s", time.Now().Format("15:04:05"), s.Registration.State, s.Phone.State)
		for _, c := range s.Calls {
			line += fmt.Sprintf(" call=%s codec=%s rtp sent=%d recv=%d lost=%d jitter=%.1fms", c.State, c.Codec, c.RTP.Sent, c.RTP.Received, c.RTP.Lost, c.RTP.JitterMS)
			sent, recv = c.RTP.Sent, c.RTP.Received
		}
		fmt.Println(line)
	}
	if err := d.Phone().Hangup(ctx); err != nil {
		return fmt.Errorf("demo: hang up: %w", err)
	}
	fmt.Printf("hung up: %d RTP packets sent, %d received\n", sent, recv)
	if sent == 0 || recv == 0 {
		return errors.New("demo: audio did not flow both ways")
	}
	return nil
}

// idleSleep is how long the Go runtime's monitor thread may sleep while
// the phone is idle (hal/wake/sysmon): the runtime's own is a minute.
// The phone's next timer (its registration refresh, a keepalive) still
// wakes it sooner.
const idleSleep = 10 * time.Minute

// lengthenIdleSleep lets an idle phone sleep through the runtime's
// once-a-minute look, in builds made with the sysmonsleep tag (the
// Makefile's). DESKPHONE_SYSMONSLEEP=0 keeps the runtime's minute.
func lengthenIdleSleep(log *slog.Logger) {
	if os.Getenv("DESKPHONE_SYSMONSLEEP") == "0" {
		log.Info("runtime: idle sleep kept at the runtime's", "sleep", sysmon.IdleSleep(), "why", "DESKPHONE_SYSMONSLEEP=0")
		return
	}
	prev, err := sysmon.SetIdleSleep(idleSleep)
	if err != nil {
		log.Info("runtime: idle sleep kept at the runtime's", "sleep", sysmon.IdleSleep(), "why", err)
		return
	}
	log.Info("runtime: idle sleep lengthened", "from", prev, "to", idleSleep)
}
