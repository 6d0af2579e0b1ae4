package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestPageOutCode drops the test binary's own read-only pages and goes
// on running: the pages come back on use.
func TestPageOutCode(t *testing.T) {
	if runtime.GOOS != "linux" {
		if n := pageOutCode(); n != 0 {
			t.Fatalf("pageOutCode advised %d bytes off Linux", n)
		}
		t.Skip("MADV_PAGEOUT is Linux's")
	}
	n := pageOutCode()
	if n == 0 {
		t.Skip("the kernel refused MADV_PAGEOUT (before Linux 5.4)")
	}
	t.Logf("advised %d kB", n>>10)
	// Code and read-only data fault back in.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatal(got)
	}
	runtime.GC()
}

// TestSchedulePageOutOff: DESKPHONE_PAGEOUT=0 keeps the pages.
func TestSchedulePageOutOff(t *testing.T) {
	t.Setenv("DESKPHONE_PAGEOUT", "0")
	if tm := SchedulePageOut(slog.New(slog.DiscardHandler)); tm != nil {
		tm.Stop()
		t.Fatal("scheduled with DESKPHONE_PAGEOUT=0")
	}
	os.Unsetenv("DESKPHONE_PAGEOUT")
	tm := SchedulePageOut(slog.New(slog.DiscardHandler))
	if tm == nil {
		t.Fatal("not scheduled by default")
	}
	tm.Stop()
}
