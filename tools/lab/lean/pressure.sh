#!/bin/bash
# Idle phones under memory pressure (issue 19): two phoned builds side by
# side on one tools/pbx on loopback, each in a memory cgroup of its own,
# one call each to the tone service, then MIN idle minutes; 30 s into each
# minute both cgroups are squeezed alike (cgroup v1: the limit set to half
# the usage, so the kernel reclaims what it can, then lifted; v2: half the
# usage written to memory.reclaim), as a host short of memory would. Each
# minute it prints both phones' context switches (all threads), major page
# faults (reads from storage, /proc/PID/stat field 12) and VmRSS.
#
#   tools/lab/lean/pressure.sh NEW_DIR BASE_DIR
#
# NEW_DIR holds phoned and pbx, BASE_DIR a phoned (e.g. main's build:
# CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o DIR/ ./firmware/cmd/phoned ./tools/cmd/pbx).
# Environment: MIN (1..10, default 6), PORT (default 45000: the tier uses
# PORT..PORT+599 and PORT+90, PORT+91 for the API), BASE_ENV (extra
# environment for the baseline, e.g. DESKPHONE_PIN=0 to run one build
# both ways). Root, loopback only; nat.upnp off. Measured in
# docs/performance.md.
set -eu
NEW=$1 BASE=$2
MIN=${MIN:-6} PORT=${PORT:-45000}
[ "$MIN" -ge 1 ] && [ "$MIN" -le 10 ] || { echo "MIN must be 1..10" >&2; exit 2; }
W=$(mktemp -d /tmp/pressure.XXXXXX)
# Own copies: a binary file another process maps cannot be paged out.
mkdir "$W/new" "$W/base"
cp "$NEW/phoned" "$W/new/"; cp "$BASE/phoned" "$W/base/"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	V=2 CG=/sys/fs/cgroup
	echo +memory > $CG/cgroup.subtree_control 2>/dev/null || true
else
	V=1 CG=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)
fi
G1=$CG/dpl-pressure-new.$$ G2=$CG/dpl-pressure-base.$$
mkdir "$G1" "$G2"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rmdir "$G1" "$G2" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
cfg() { # user sipbase api
	cat <<Y
accounts:
  - user: "$1"
    password: "pw$1"
    domain: 127.0.0.1
    registrar: 127.0.0.1:$((PORT+260))
    expires: 300
ports:
  sip: {min: $2, max: $(($2+1))}
  media: {min: $(($2+100)), max: $(($2+199))}
nat:
  strategies: []
  upnp: false
audio:
  input: "tone:440"
api:
  listen: 127.0.0.1:$3
log:
  level: warn
Y
}
cfg 2001 "$PORT" $((PORT+90)) > "$W/new.yaml"
cfg 2003 $((PORT+400)) $((PORT+91)) > "$W/base.yaml"
sync
python3 -c "import os,sys
for f in sys.argv[1:]:
  fd=os.open(f,os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)" "$W/new/phoned" "$W/base/phoned"
"$NEW/pbx" -listen 127.0.0.1:$((PORT+260)) -realm lean -user 2001:pw2001 -user 2003:pw2003 -log-level warn > "$W/pbx.log" 2>&1 &
PIDS+=($!)
sleep 0.5
sh -c "echo \$\$ > $G1/cgroup.procs; exec $W/new/phoned -config $W/new.yaml" > "$W/new.log" 2>&1 &
N=$!; PIDS+=($N)
sh -c "echo \$\$ > $G2/cgroup.procs; exec env ${BASE_ENV:-} $W/base/phoned -config $W/base.yaml" > "$W/base.log" 2>&1 &
B=$!; PIDS+=($B)
sw() { cat /proc/$1/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s+=$2} END {print s}'; }
maj() { awk '{print $12}' /proc/$1/stat; }
rss() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
squeeze() {
	for g in "$G1" "$G2"; do
		if [ $V = 2 ]; then
			u=$(cat "$g/memory.current"); echo $((u/2)) > "$g/memory.reclaim" 2>/dev/null || true
		else
			u=$(cat "$g/memory.usage_in_bytes"); echo $((u/2)) > "$g/memory.limit_in_bytes" 2>/dev/null || true
			echo -1 > "$g/memory.limit_in_bytes"
		fi
	done
}
sleep 20 # past the page-out (15 s after start)
for api in $((PORT+90)) $((PORT+91)); do curl -sf -X POST -H Content-Type:application/json -d '{"to":"tone"}' http://127.0.0.1:$api/api/call >/dev/null; done
sleep 10
for api in $((PORT+90)) $((PORT+91)); do curl -sf -X POST -H Content-Type:application/json -d '{}' http://127.0.0.1:$api/api/hangup >/dev/null; done
a=$(sw $N) b=$(sw $B) ma=$(maj $N) mb=$(maj $B)
echo "cgroup v$V; squeezed 30 s into each minute"
echo "| idle minute | switches new | switches base | reads new | reads base | VmRSS new (kB) | VmRSS base (kB) |"
echo "|---|---|---|---|---|---|---|"
for m in $(seq 1 "$MIN"); do
	sleep 30; squeeze; sleep 30
	a2=$(sw $N) b2=$(sw $B) ma2=$(maj $N) mb2=$(maj $B)
	echo "| $m | $((a2-a)) | $((b2-b)) | $((ma2-ma)) | $((mb2-mb)) | $(rss $N) | $(rss $B) |"
	a=$a2 b=$b2 ma=$ma2 mb=$mb2
done
grep -h VmLck /proc/$N/status /proc/$B/status | tr '\n' ' '; echo "(new, base)"
