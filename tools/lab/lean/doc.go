// Package lean is the slow tier that measures phoned side by side with
// baresip (issue 19): tools/pbx on loopback, a phoned and a baresip
// registered with it, each calling the PBX's tone service in turn
// (interleaved runs), and a report of CPU (utime+stime from
// /proc/PID/stat) per call, RSS and RssAnon in a call (/proc/PID/status,
// smaps_rollup), context switches per idle minute (summed over
// /proc/PID/task/*/status, in windows that start at least 5 s after the
// phone's last call and after phoned's one start-up page-out; the order
// of the phones rotates run after run, so each has its window soonest
// after its own call equally often), major page faults per idle minute and per
// call (reads from storage, /proc/PID/stat) and the time from the 200 OK reaching the
// phone to its first RTP packet (a loopback capture with kernel
// timestamps, AF_PACKET, which needs root).
//
// After the runs, DESKPHONE_LEAN_QUIET=<duration> leaves every phone idle
// at once that long and counts each one's context switches and
// REGISTERs: the short windows seldom hold a registration refresh, and
// a refresh is most of what wakes an idle phone. DESKPHONE_LEAN_EXPIRES
// sets every phone's registration expiry (300 s; make test-lean runs a
// 4-minute quiet window at 120 s). For a Go phone the report also
// gives the share of the runtime's monitor thread (sysmon: it sleeps at
// most a minute, then until each timer, 2 switches a wake, in any Go
// program), found as the one thread asleep in futex with a timeout.
//
// A baseline phoned (another build, DESKPHONE_LEAN_BASE) may run
// interleaved with the two, for before/after figures from the same runs.
// DESKPHONE_LEAN_CALLS=N has each phone hold N calls at once (each new
// call holding the one before: the 4-call load), DESKPHONE_LEAN_BARESIP
// runs another baresip program (arm64 under QEMU: make bench-lean-arm64)
// and DESKPHONE_LEAN_PORTS moves every port of the tier.
//
// It is a report, not a timed test: it fails only when a phone does not
// register or a call does not connect. Run it with `make test-lean` (or
// `make bench-lean`); every run is bounded (at most 8 runs of at most
// 60 s calls). docs/lean.md has the figures and how to read them.
package lean
