package daemon

import (
	"testing"

	"github.com/deskphone/phone/firmware/config"
)

func TestMemoryLimit(t *testing.T) {
	cfg := config.Default()
	for _, tc := range []struct {
		set, total, want int64
	}{
		{0, 0, DefaultMemoryLimit},
		{0, 512 << 20, DefaultMemoryLimit},    // QEMU image, Pi Zero: 64 MiB/8 > default
		{0, 128 << 20, config.MinMemoryLimit}, // a tiny board: an eighth, not below the minimum
		{0, 200 << 20, 25 << 20},
		{96 << 20, 512 << 20, 96 << 20}, // memory_limit wins
	} {
		cfg.MemoryLimit = tc.set
		if got := MemoryLimit(cfg, tc.total); got != tc.want {
			t.Errorf("MemoryLimit(set %d, total %d) = %d, want %d", tc.set, tc.total, got, tc.want)
		}
	}
}
