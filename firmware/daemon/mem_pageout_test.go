package daemon

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPageOutCode drops the test binary's own read-only pages and goes
// on running: the pages come back on use. Where the kernel can stop
// fault-around, every mapping is registered for it and none is advised
// for random reads; elsewhere the read-only data is advised and the
// code is not.
func TestPageOutCode(t *testing.T) {
	if runtime.GOOS != "linux" {
		if n, err := pageOutCode(false); n != 0 || err != nil {
			t.Fatalf("pageOutCode advised %d bytes off Linux (%v)", n, err)
		}
		t.Skip("MADV_PAGEOUT is Linux's")
	}
	n, faErr := pageOutCode(false)
	if n == 0 {
		t.Skip("the kernel refused MADV_PAGEOUT (before Linux 5.4)")
	}
	t.Logf("advised %d kB; fault-around: %v", n>>10, faErr)
	// Code and read-only data fault back in.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatal(got)
	}
	runtime.GC()
	// VmFlags "rr": advised for random reads (no read-around when the
	// pages fault back in); "uw": registered for write-protect tracking
	// with a userfaultfd, which stops fault-around.
	count := func(code bool, flag string) (n, with int) {
		for _, m := range exeSmaps(t) {
			if m.code == code {
				n++
				if slices.Contains(m.flags, flag) {
					with++
				}
			}
		}
		return n, with
	}
	data, dataRandom := count(false, "rr")
	code, codeRandom := count(true, "rr")
	_, dataUW := count(false, "uw")
	_, codeUW := count(true, "uw")
	if data == 0 || code == 0 {
		t.Fatalf("%d read-only data and %d code mappings of the test binary", data, code)
	}
	if faErr == nil {
		if dataUW != data || codeUW != code || dataRandom != 0 || codeRandom != 0 {
			t.Fatalf("fault-around stopped, yet registered %d of %d data and %d of %d code mappings, random reads on %d data and %d code; want all registered, none random",
				dataUW, data, codeUW, code, dataRandom, codeRandom)
		}
		return
	}
	if !errors.Is(faErr, errNoFaultAroundStop) {
		t.Fatalf("fault-around: %v, not errNoFaultAroundStop", faErr)
	}
	if dataRandom != data || codeRandom != 0 || dataUW != 0 || codeUW != 0 {
		t.Fatalf("MADV_RANDOM on %d of %d read-only data and %d of %d code mappings, %d and %d registered; want all data random, no code, none registered",
			dataRandom, data, codeRandom, code, dataUW, codeUW)
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
