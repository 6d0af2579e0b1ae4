#!/usr/bin/env bash
# gotest-race.sh: `go test -race` over the given packages, with one narrow
# retry. Go 1.26's race runtime can crash inside its own timer code in a
# testing/synctest bubble (SIGSEGV in runtime.(*timer).maybeRunChan,
# golang/go#78156), or in the race runtime's own C++ (ThreadSanitizer's
# StackDepot) on a synctest bubble's system goroutine ("goroutine 0 ...
# synctest bubble": seen once in portmgr/nattest on the merged tree); it
# is not a test failure and cannot be fixed here.
# When a run fails ONLY by such a runtime crash (no "--- FAIL:" line, no
# race report), the crashed packages are run once more; anything else
# fails at once, and a second crash fails too.
set -uo pipefail
GO=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$GO" test -race -count=1 -timeout 15m "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] && exit 0
if grep -q -e '^--- FAIL:' -e '^WARNING: DATA RACE' -e '^panic: ' "$log" ||
  ! grep -q -e '^SIGSEGV: segmentation violation' -e '^unexpected fault address' "$log" ||
  ! grep -q -e 'runtime\.(\*timer)' -e '^goroutine 0 .*synctest bubble' "$log"; then
  exit "$rc"
fi
pkgs=$(sed -n 's/^FAIL[[:space:]]\+\([^[:space:]]\+\)[[:space:]].*/\1/p' "$log" | sort -u)
[ -n "$pkgs" ] || exit "$rc"
echo "== runtime crash in the race detector's timer code (golang/go#78156); once more: $pkgs"
# shellcheck disable=SC2086
exec "$GO" test -race -count=1 -timeout 15m $pkgs
