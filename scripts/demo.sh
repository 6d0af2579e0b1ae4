#!/usr/bin/env bash
# The `make run` demo: a local PBX and one phone on the sim board. The
# phone registers, calls the echo extension, prints status every second
# for ~10 s, hangs up, and the script exits 0 when audio flowed both ways.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pbx_pid=""
cleanup() {
  [ -n "$pbx_pid" ] && kill "$pbx_pid" 2>/dev/null && wait "$pbx_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
SIP_PORT=${SIP_PORT:-15060}
cat > "$work/phone.yaml" <<YAML
accounts:
  - user: "1001"
    password: "1001pass"
    domain: "127.0.0.1"
    registrar: "127.0.0.1:${SIP_PORT}"
    expires: 300s
ports:
  sip: {min: 15070, max: 15079}
  media: {min: 16384, max: 16483}
audio:
  input: "tone:440"
  output: "wav:$work/heard.wav"
nat:
  upnp: false   # the demo talks to loopback only: no gateway probes
api:
  listen: "127.0.0.1:0"
log:
  level: warn
YAML
./bin/pbx -listen "127.0.0.1:${SIP_PORT}" -realm demo -user 1001:1001pass -log-level warn > "$work/pbx.log" 2>&1 &
pbx_pid=$!
for _ in $(seq 50); do grep -q listening "$work/pbx.log" && break; sleep 0.1; done
grep -q listening "$work/pbx.log" || { echo "pbx did not start:"; cat "$work/pbx.log"; exit 1; }
echo "pbx: $(head -1 "$work/pbx.log")"
./bin/phoned -config "$work/phone.yaml" -demo-call echo -demo-duration "${DEMO_DURATION:-10s}"
