package daemon

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/deskphone/phone/firmware/config"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit when the
// config sets none: 32 MiB, ample for the phone's live heap (a few MiB)
// yet far below the smallest board (the QEMU image and a Pi Zero have
// 512 MB), or an eighth of the machine's memory when that is less.
const DefaultMemoryLimit = 32 << 20

// MemoryLimit is the limit for cfg on a machine with memTotal bytes
// (0 when unknown): memory_limit when set, else the default.
func MemoryLimit(cfg *config.Config, memTotal int64) int64 {
	if cfg.MemoryLimit > 0 {
		return cfg.MemoryLimit
	}
	if memTotal > 0 && memTotal/8 < DefaultMemoryLimit {
		return max(memTotal/8, config.MinMemoryLimit)
	}
	return DefaultMemoryLimit
}

// ApplyMemoryLimit sets the runtime's soft memory limit
// (debug.SetMemoryLimit) for the process, once at start: memory_limit
// when set; otherwise a GOMEMLIMIT in the environment is left as it is,
// and without one the default applies. It returns the limit in effect.
// Near the limit the garbage collector runs more often, so a burst of
// garbage (a request flood) does not grow the process.
func ApplyMemoryLimit(cfg *config.Config, log *slog.Logger) int64 {
	if cfg.MemoryLimit == 0 && os.Getenv("GOMEMLIMIT") != "" {
		n := debug.SetMemoryLimit(-1)
		log.Info("memory limit from GOMEMLIMIT", "bytes", n)
		return n
	}
	n := MemoryLimit(cfg, memTotal())
	debug.SetMemoryLimit(n)
	log.Info("memory limit", "bytes", n)
	return n
}

// memTotal reads MemTotal from /proc/meminfo; 0 when unknown.
func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemTotal:" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
