package lean

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bootBinary puts the file at path in the state a device's binary is in
// when the device boots: written back to storage (fsync) and not in the
// page cache (posix_fadvise POSIX_FADV_DONTNEED), so that start-up reads
// it from storage. A binary built just before the run was dirty in the
// page cache instead (this host holds hundreds of MB of dirty pages for
// minutes), and the kernel does not evict dirty pages: phoned's page-out
// (firmware/daemon/pageout_linux.go) could then only unmap its start-up
// pages, never drop them, as it does on a device. It changes nothing of
// baresip's (its libraries are shared with the rest of the host).
func bootBinary(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Logf("fadvise %s: %v", path, err)
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux this runs on).
const clockTick = 10 * time.Millisecond

// statField returns fields n, n+1, ... (counting from 1, as proc(5)
// does) of /proc/PID/stat as integers.
func statField(pid, n, count int) ([]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < n-3+count {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	out := make([]int64, count)
	for k := range out {
		v, err := strconv.ParseInt(f[n-3+k], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/stat field %d: %q", pid, n+k, f[n-3+k])
		}
		out[k] = v
	}
	return out, nil
}

// cpuTime is utime+stime of pid (all its threads, live and exited):
// fields 14 and 15.
func cpuTime(pid int) (time.Duration, error) {
	v, err := statField(pid, 14, 2)
	if err != nil {
		return 0, err
	}
	return time.Duration(v[0]+v[1]) * clockTick, nil
}

// majorFaults is pid's major page faults so far (field 12 of
// /proc/PID/stat): the faults that waited for storage. phoned's own
// binary pages come back through them after its page-out.
func majorFaults(pid int) (int64, error) {
	v, err := statField(pid, 12, 1)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// statusFields reads the named "Key:  value kB" fields of a /proc
// status-like file, in kB (or plain counts).
func statusFields(path string, keys ...string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				fs := strings.Fields(v)
				if len(fs) > 0 {
					n, err := strconv.ParseInt(fs[0], 10, 64)
					if err == nil {
						out[k] = n
					}
				}
			}
		}
	}
	return out, sc.Err()
}

// memory is a process's resident memory, in kB.
type memory struct {
	rss, anon, pss int64
}

func readMemory(pid int) (memory, error) {
	st, err := statusFields(fmt.Sprintf("/proc/%d/status", pid), "VmRSS", "RssAnon")
	if err != nil {
		return memory{}, err
	}
	m := memory{rss: st["VmRSS"], anon: st["RssAnon"]}
	if r, err := statusFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss"); err == nil {
		m.pss = r["Pss"]
	}
	return m, nil
}

// ctxSwitches is voluntary + involuntary context switches summed over
// pid's live threads (/proc/PID/status counts the main thread only, and
// a thread that ended took its count with it).
func ctxSwitches(pid int) (int64, error) {
	th, err := threadSwitches(pid)
	return sum(th), err
}

// sum adds up per-thread counts.
func sum(th map[int]int64) int64 {
	var n int64
	for _, c := range th {
		n += c
	}
	return n
}

// threadSwitches is each live thread's voluntary + involuntary context
// switches, by thread id.
func threadSwitches(pid int) (map[int]int64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("no tasks of %d: %v", pid, err)
	}
	out := make(map[int]int64, len(tasks))
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(t)))
		if err != nil {
			continue
		}
		st, err := statusFields(t, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
		if err != nil {
			continue // the thread ended meanwhile
		}
		out[tid] = st["voluntary_ctxt_switches"] + st["nonvoluntary_ctxt_switches"]
	}
	return out, nil
}

// sysmonThread returns the thread id of a Go program's runtime monitor
// (sysmon), or 0 when no thread looks like it now. An idle Go program's
// sysmon sleeps in futex with a timeout (until the next timer, at most a
// minute: the runtime's floor of wake-ups, which no setting changes);
// the other threads park in futex without one, or wait in epoll_pwait.
// /proc/PID/task/TID/syscall: "NR arg1 ... arg6 sp pc" while blocked in
// a system call; the timeout is futex's fourth argument.
func sysmonThread(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	found := 0
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 5 || f[0] != strconv.Itoa(unix.SYS_FUTEX) || f[4] == "0x0" {
			continue
		}
		if found != 0 {
			return 0 // two such threads: not a Go program at rest
		}
		found, _ = strconv.Atoi(filepath.Base(filepath.Dir(t)))
	}
	return found
}

// findSysmon looks for pid's sysmon thread (sysmonThread) a few times
// over a second: at any one moment it may be awake, polling after a
// refresh or a call.
func findSysmon(pid int) int {
	for range 20 {
		if tid := sysmonThread(pid); tid != 0 {
			return tid
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0
}
