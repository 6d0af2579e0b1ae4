package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"slices"
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
	// The binary's read-only data is marked for random reads (VmFlags
	// "rr": no read-around when its pages fault back in), its code not.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var data, code, dataRandom, codeRandom int
	kind := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			kind = ""
			if len(f) >= 6 && f[5] == exe && !strings.Contains(f[1], "w") {
				kind = "data"
				data++
				if strings.Contains(f[1], "x") {
					kind = "code"
					code++
					data--
				}
			}
		case kind != "" && len(f) > 0 && f[0] == "VmFlags:" && slices.Contains(f[1:], "rr"):
			if kind == "code" {
				codeRandom++
			} else {
				dataRandom++
			}
		}
	}
	if data == 0 || code == 0 || dataRandom != data || codeRandom != 0 {
		t.Fatalf("MADV_RANDOM on %d of %d read-only data and %d of %d code mappings; want all data, no code", dataRandom, data, codeRandom, code)
	}
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
