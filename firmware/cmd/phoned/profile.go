package main

import (
	"log/slog"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startProfiles starts the opt-in profiles that measure the phone in
// place (issue 19): DESKPHONE_CPUPROFILE=<file> writes a CPU profile
// (`go tool pprof`), DESKPHONE_TRACE=<file> an execution trace (`go tool
// trace`: every wake-up with the goroutine and stack that caused it),
// both from start until the phone stops on SIGINT or SIGTERM. The
// returned function stops them and closes the files. Neither is set on a
// device; a profile that cannot start is logged and skipped.
func startProfiles(log *slog.Logger) (stop func()) {
	var stops []func()
	if path := os.Getenv("DESKPHONE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err != nil {
			log.Warn("cpu profile", "err", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			log.Warn("cpu profile", "err", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if path := os.Getenv("DESKPHONE_TRACE"); path != "" {
		if f, err := os.Create(path); err != nil {
			log.Warn("trace", "err", err)
		} else if err := trace.Start(f); err != nil {
			log.Warn("trace", "err", err)
			f.Close()
		} else {
			stops = append(stops, func() { trace.Stop(); f.Close() })
		}
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
