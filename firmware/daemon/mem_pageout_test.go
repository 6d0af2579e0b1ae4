package daemon

import (
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
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
	var data, code, dataRandom, codeRandom int
	for _, m := range exeSmaps(t) {
		if m.code {
			code++
			if slices.Contains(m.flags, "rr") {
				codeRandom++
			}
		} else {
			data++
			if slices.Contains(m.flags, "rr") {
				dataRandom++
			}
		}
	}
	if data == 0 || code == 0 || dataRandom != data || codeRandom != 0 {
		t.Fatalf("MADV_RANDOM on %d of %d read-only data and %d of %d code mappings; want all data, no code", dataRandom, data, codeRandom, code)
	}
}

// smapsEntry is one of the test binary's read-only mappings in
// /proc/self/smaps.
type smapsEntry struct {
	code        bool     // r-xp
	rss, locked int64    // kB
	flags       []string // VmFlags
}

// exeSmaps reads the test binary's read-only mappings from
// /proc/self/smaps (Linux).
func exeSmaps(t *testing.T) []smapsEntry {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var out []smapsEntry
	var cur *smapsEntry
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			cur = nil
			if len(f) >= 6 && f[5] == exe && !strings.Contains(f[1], "w") {
				out = append(out, smapsEntry{code: strings.Contains(f[1], "x")})
				cur = &out[len(out)-1]
			}
		case cur == nil || len(f) < 2:
		case f[0] == "Rss:":
			cur.rss, _ = strconv.ParseInt(f[1], 10, 64)
		case f[0] == "Locked:":
			cur.locked, _ = strconv.ParseInt(f[1], 10, 64)
		case f[0] == "VmFlags:":
			cur.flags = f[1:]
		}
	}
	return out
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
